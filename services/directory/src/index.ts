export { DirectoryServer } from "./server";
export type { DirectoryServerOptions, DirectoryAddress } from "./server";
export { parseArgs, resolveConfig, helpText, envName, DEFAULTS } from "./config";
export type { DirectoryConfig, LogLevel } from "./config";
export { ConfigError, StoreUnavailableError, RecordsFormatError } from "./errors";
export { FileRecordWriter, RedisRecordWriter } from "./record-writer";
export type { RecordWriter, RedisRecordWriterOptions } from "./record-writer";
export {
  DEFAULT_INVALIDATION_CHANNEL,
  DEFAULT_SENTINEL_KEY,
  RedisDirectoryStore,
} from "./store/redis-store";
export { FileDirectoryStore } from "./store/file-store";
export { MemoryDirectoryStore } from "./store/memory-store";
export { CachingStore } from "./store/caching-store";
export { GetBatcher } from "./store/get-batcher";
export { AddressList, parseAddressList } from "./address-list";
export { UpstreamStore } from "./store/upstream-store";
export type { DirectoryStore, LookupResult } from "./store/types";
export { DirectorySession, LogLimiter, MAX_LINE_BYTES } from "./session";
export { parseRecords, formatRecords, recordKey } from "./records";
export { DirectoryMetrics } from "./metrics";
