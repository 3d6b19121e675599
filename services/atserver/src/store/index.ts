export { KeyStore } from "./key-store";
export {
  StoreClosedError,
  StoreLockedError,
  StoreOpenError,
  StoreVersionError,
  type StoreOwner,
} from "./errors";
export { isLoggedKey } from "./logged-keys";
export { DB_FILE, OWNER_FILE, dbPath } from "./layout";
export { LATEST_SCHEMA_VERSION, MIGRATIONS, migrate, schemaVersion } from "./migrations";
export type {
  CommitEntry,
  CommitOperation,
  CommitWithEntry,
  KeysFilter,
  OpenOptions,
  PutOptions,
  StoreLogger,
  SynchronousMode,
  StoredEntry,
} from "./types";
