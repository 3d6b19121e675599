/** One key as stored. `value` is the protocol's value text (binary values arrive base64). */
export interface StoredEntry {
  key: string;
  value: string | null;
  metadata: Record<string, unknown>;
  /** Epoch ms; the entry is absent from get()/keys() once `expiresAt <= now`. */
  expiresAt: number | null;
  /** Epoch ms; the entry is absent from get()/keys() while `availableAt > now`. */
  availableAt: number | null;
  /** Commit id of the last change, or -1 when the key is not in the commit log. */
  commitId: number;
}

export interface PutOptions {
  expiresAt?: number | null;
  availableAt?: number | null;
  /**
   * Do not record this change in the commit log (the reference's "skip commit", used for
   * enrollment records). Keys that are never synced are skipped anyway: see isLoggedKey().
   */
  skipCommit?: boolean;
}

export type CommitOperation = "update" | "delete" | "update_meta";

export interface CommitEntry {
  id: number;
  key: string;
  operation: CommitOperation;
  /** Epoch ms of the change. */
  at: number;
}

/** A commit with the key's current row (raw: expiry/availability not applied), for sync:from. */
export interface CommitWithEntry extends CommitEntry {
  /** null for deletes, or when the key no longer exists. */
  entry: StoredEntry | null;
}

export interface KeysFilter {
  regex?: RegExp;
  /** Evaluate expiry/availability at this time instead of the store's clock. */
  now?: number;
}

export type SynchronousMode = "full" | "normal";

export interface OpenOptions {
  /** Clock (epoch ms); tests inject one. */
  now?: () => number;
  /**
   * "full" (default): every commit fsyncs the WAL, so an acknowledged write survives a crash
   * of the process, the machine and (with NFS) the client node. "normal" only survives a crash
   * of the process; it exists for the benchmark.
   */
  synchronous?: SynchronousMode;
  /** SQLite page cache per store, KiB (default 2048). */
  cacheSizeKiB?: number;
  /** pino-compatible logger; silent when absent. */
  logger?: StoreLogger;
}

export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
