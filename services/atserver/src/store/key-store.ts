import { existsSync, statSync } from "node:fs";
import type { Database } from "better-sqlite3";
import { StoreClosedError, StoreVersionError } from "./errors";
import { dbPath } from "./layout";
import { isLoggedKey } from "./logged-keys";
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from "./migrations";
import { openDatabase } from "./open-database";
import { removeOwner, writeOwner } from "./owner-file";
import { isLive, toCommit, toCommitWithEntry, toEntry } from "./rows";
import { prepareStatements, type Statements } from "./statements";
import type {
  CommitEntry,
  CommitOperation,
  CommitWithEntry,
  KeysFilter,
  OpenOptions,
  PutOptions,
  StoredEntry,
} from "./types";

const KEYS_PAGE = 256;
const SWEEP_BATCH = 500;

/**
 * One atSign's keys, in one SQLite database held exclusively by this process.
 * Every write is one transaction, durable when the method returns.
 */
export class KeyStore {
  private db: Database | undefined;
  private readonly stmts: Statements;
  private readonly now: () => number;
  private readonly inTransaction: (fn: () => unknown) => unknown;

  private constructor(
    readonly dir: string,
    db: Database,
    now: () => number,
  ) {
    this.db = db;
    this.now = now;
    this.stmts = prepareStatements(db);
    this.inTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** Opens (creating and migrating as needed) the store in `dir`. */
  static open(dir: string, opts: OpenOptions = {}): KeyStore {
    const now = opts.now ?? Date.now;
    // A WAL left behind means the last owner did not close cleanly; SQLite replays it on open.
    const unclean = existsSync(`${dbPath(dir)}-wal`);
    const db = openDatabase(dir, {
      synchronous: opts.synchronous ?? "full",
      cacheSizeKiB: opts.cacheSizeKiB ?? 2048,
    });
    try {
      const found = schemaVersion(db);
      if (found > LATEST_SCHEMA_VERSION) {
        throw new StoreVersionError(dir, found, LATEST_SCHEMA_VERSION);
      }
      const applied = migrate(db);
      if (applied.length > 0) opts.logger?.info({ dir, from: found, applied }, "store migrated");
      writeOwner(dir, now());
      const store = new KeyStore(dir, db, now);
      const info = {
        dir,
        schemaVersion: LATEST_SCHEMA_VERSION,
        lastCommitId: store.lastCommitId(),
      };
      if (unclean) opts.logger?.warn(info, "store opened after an unclean shutdown (WAL replayed)");
      else opts.logger?.info(info, "store opened");
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The live entry, or undefined if absent, expired or not yet available. */
  get(key: string): StoredEntry | undefined {
    const row = this.s().getEntry.get(key);
    return row && isLive(row, this.now()) ? toEntry(row) : undefined;
  }

  /** The stored row whatever its expiry or availability (e.g. for metadata of unborn keys). */
  peek(key: string): StoredEntry | undefined {
    const row = this.s().getEntry.get(key);
    return row ? toEntry(row) : undefined;
  }

  /** Creates or replaces the entry. Returns its commit id, or -1 if the key is not logged. */
  put(
    key: string,
    value: string | null,
    metadata: Record<string, unknown>,
    opts: PutOptions = {},
  ): number {
    checkKey(key);
    const meta = JSON.stringify(metadata);
    return this.write(() => {
      const commitId = this.commit(key, "update", opts.skipCommit);
      this.s().upsertEntry.run({
        key,
        value,
        metadata: meta,
        expiresAt: opts.expiresAt ?? null,
        availableAt: opts.availableAt ?? null,
        commitId,
      });
      return commitId;
    });
  }

  /**
   * Replaces the metadata of an existing, unexpired entry (value kept). expiresAt/availableAt
   * are kept unless given (null clears). Returns the commit id (-1 if not logged), or
   * undefined if the key is absent or expired.
   */
  updateMetadata(
    key: string,
    metadata: Record<string, unknown>,
    opts: PutOptions = {},
  ): number | undefined {
    checkKey(key);
    const meta = JSON.stringify(metadata);
    return this.write(() => {
      const row = this.s().getEntry.get(key);
      if (!row || (row.expires_at !== null && row.expires_at <= this.now())) return undefined;
      const commitId = this.commit(key, "update_meta", opts.skipCommit);
      this.s().updateMeta.run({
        key,
        metadata: meta,
        expiresAt: opts.expiresAt === undefined ? row.expires_at : opts.expiresAt,
        availableAt: opts.availableAt === undefined ? row.available_at : opts.availableAt,
        commitId,
      });
      return commitId;
    });
  }

  /**
   * Deletes the entry. Returns the commit id (-1 if not logged), or undefined if there was no
   * row. An expired row not yet swept is deleted and logged like any other.
   */
  delete(key: string, opts: { skipCommit?: boolean } = {}): number | undefined {
    return this.write(() => this.deleteRow(key, opts.skipCommit));
  }

  /** Live keys in code-point order, read in pages so memory does not grow with the store. */
  *keys(filter: KeysFilter = {}): IterableIterator<string> {
    const regex = filter.regex ? statelessCopy(filter.regex) : undefined;
    let after = "";
    for (;;) {
      // Re-read the clock per page unless pinned, so a long scan does not list keys that
      // expired while it ran.
      const now = filter.now ?? this.now();
      const page = this.s().liveKeysAfter.all({ after, now, limit: KEYS_PAGE });
      for (const { key } of page) {
        if (!regex || regex.test(key)) yield key;
      }
      if (page.length < KEYS_PAGE) return;
      after = page[page.length - 1].key;
    }
  }

  /** Commits with id > `id`, oldest first; at most `limit` (default: all). */
  commitsSince(id: number, limit?: number): CommitEntry[] {
    return this.s().commitsSince.all(id, sqlLimit(limit)).map(toCommit);
  }

  /** As commitsSince, each with the key's current row (null for deletes or vanished keys). */
  commitsWithEntriesSince(id: number, limit?: number): CommitWithEntry[] {
    return this.s().commitsWithEntriesSince.all(id, sqlLimit(limit)).map(toCommitWithEntry);
  }

  /** The newest commit id ever handed out, or -1 if none. */
  lastCommitId(): number {
    return this.s().lastCommitId.get()?.last_id ?? -1;
  }

  getSetting(name: string): string | undefined {
    return this.s().getSetting.get(name)?.value;
  }

  setSetting(name: string, value: string): void {
    this.s().setSetting.run(name, value);
  }

  /** Deletes every entry expired by now, logging the deletes. Returns how many. */
  sweepExpired(): number {
    let total = 0;
    for (;;) {
      const now = this.now();
      const n = this.write(() => {
        const batch = this.s().expiredKeys.all(now, SWEEP_BATCH);
        for (const { key } of batch) this.deleteRow(key, false);
        return batch.length;
      });
      total += n;
      if (n < SWEEP_BATCH) return total;
    }
  }

  /**
   * Writes a consistent copy of the store to `destFile` while it stays open (no other process
   * can read the live file). Restore by placing the copy as `store.sqlite` in a storage dir.
   */
  async backup(destFile: string): Promise<void> {
    if (!this.db) throw new StoreClosedError();
    await this.db.backup(destFile);
  }

  /** Bytes used by the database and its WAL (for `stats` and quotas). */
  sizeOnDisk(): number {
    this.s();
    return fileSize(dbPath(this.dir)) + fileSize(`${dbPath(this.dir)}-wal`);
  }

  /** Releases the lock. Idempotent. */
  close(): void {
    const db = this.db;
    if (!db) return;
    this.db = undefined;
    // Remove the owner file while still holding the lock, so a next owner's file is never hit.
    removeOwner(this.dir);
    db.close();
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  private deleteRow(key: string, skipCommit: boolean | undefined): number | undefined {
    if (this.s().deleteEntry.run(key).changes === 0) return undefined;
    return this.commit(key, "delete", skipCommit);
  }

  private commit(key: string, op: CommitOperation, skip: boolean | undefined): number {
    if (skip || !isLoggedKey(key)) return -1;
    const s = this.s();
    const id = s.nextCommitId.get()!.last_id;
    s.logCommit.run(id, key, op, this.now());
    return id;
  }

  private write<T>(fn: () => T): T {
    if (!this.db) throw new StoreClosedError();
    return this.inTransaction(fn) as T;
  }

  private s(): Statements {
    if (!this.db) throw new StoreClosedError();
    return this.stmts;
  }
}

function checkKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError("key must be a non-empty string");
  }
}

function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

function sqlLimit(limit: number | undefined): number {
  if (limit === undefined) return -1;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError("limit must be an integer >= 0");
  return limit;
}

// A global or sticky regex keeps lastIndex between test() calls; matching each key on its own
// needs a copy without those flags.
function statelessCopy(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, "")) : re;
}
