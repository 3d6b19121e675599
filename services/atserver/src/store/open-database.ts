import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { StoreLockedError, StoreOpenError } from "./errors";
import { dbPath } from "./layout";
import { readOwner } from "./owner-file";
import type { SynchronousMode } from "./types";

export interface DatabaseSettings {
  synchronous: SynchronousMode;
  cacheSizeKiB: number;
}

/**
 * Opens the store's database holding SQLite's exclusive lock until close, or throws
 * StoreLockedError. Order matters: locking_mode=EXCLUSIVE must be set before the first WAL
 * access, so SQLite keeps the WAL index in heap memory and never creates the `-shm` file
 * (shared memory does not work on NFS).
 */
export function openDatabase(dir: string, settings: DatabaseSettings): Database.Database {
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    ensurePrivateFile(dbPath(dir));
    // timeout 0: a held lock fails at once instead of waiting.
    db = new Database(dbPath(dir), { timeout: 0 });
  } catch (err) {
    throw new StoreOpenError(dir, err);
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`store ${dir}: could not enable WAL (got ${String(mode)})`);
    // Take the exclusive lock now (a write transaction) rather than at the first write.
    db.exec("BEGIN IMMEDIATE; COMMIT");
    db.pragma(`synchronous = ${settings.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma(`cache_size = ${-Math.max(64, Math.floor(settings.cacheSizeKiB))}`);
    db.pragma("mmap_size = 0");
    db.pragma("temp_store = FILE");
    // Keep the WAL from staying at its high-water mark after a large value is checkpointed.
    db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
    // Deleted rows (e.g. the CRAM secret) are zeroed rather than left in free pages.
    db.pragma("secure_delete = ON");
    return db;
  } catch (err) {
    db.close();
    if (isBusy(err)) throw new StoreLockedError(dir, readOwner(dir), { cause: err });
    throw new StoreOpenError(dir, err);
  }
}

// The WAL inherits the database file's mode, so the file must be 0600 before SQLite opens
// it (SQLite itself would create 0644). Never open and close a descriptor on an existing
// database file here: closing any descriptor drops every POSIX lock this process holds on the
// file, including the lock of a store already open in this process.
function ensurePrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED");
}
