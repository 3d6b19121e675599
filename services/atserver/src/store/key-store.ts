import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Database } from "better-sqlite3";
import { StoreClosedError, StoreVersionError } from "./errors";
import { dbPath } from "./layout";
import { isLoggedKey } from "./logged-keys";
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from "./migrations";
import { openDatabase } from "./open-database";
import { removeOwner, writeOwner } from "./owner-file";
import { isLive, toCommit, toCommitWithEntry, toEntry } from "./rows";
import { prepareStatements, type Statements } from "./statements";
import { checkKey, checkMetadata, checkTime, checkValue, sqlLimit } from "./validate";
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
    checkValue(value);
    checkMetadata(metadata);
    checkTimes(opts);
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
    checkMetadata(metadata);
    checkTimes(opts);
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

  /**
   * Runs `fn`'s writes (put, updateMetadata, delete, setSetting, ...) as one transaction: one
   * fsync for all of them (group commit), and none of them if `fn` throws. Commit ids returned
   * inside `fn` are durable only once batch() returns; acknowledge them after that. Nested
   * calls become savepoints.
   */
  batch<T>(fn: () => T): T {
    return this.write(fn);
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

  /**
   * As commitsSince, each with the key's current row (null for deletes or vanished keys).
   * `maxChars` stops once the keys, values and metadata read add up to that many characters
   * (at least one commit is always returned), so a page of 10 MB values cannot exhaust memory.
   */
  commitsWithEntriesSince(id: number, limit?: number, maxChars = Infinity): CommitWithEntry[] {
    const out: CommitWithEntry[] = [];
    let chars = 0;
    for (const row of this.s().commitsWithEntriesSince.iterate(id, sqlLimit(limit))) {
      out.push(toCommitWithEntry(row));
      chars += row.key.length + (row.value?.length ?? 0) + (row.metadata?.length ?? 0);
      if (chars >= maxChars) break;
    }
    return out;
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

  /**
   * Deletes entries expired by now, logging the deletes, in transactions of at most 500 rows.
   * `maxRows` bounds the work of one call (a timer can sweep a large backlog over several
   * ticks instead of blocking the event loop). Returns how many were deleted.
   */
  sweepExpired(maxRows = Infinity): number {
    let total = 0;
    while (total < maxRows) {
      const now = this.now();
      const want = Math.min(SWEEP_BATCH, maxRows - total);
      const n = this.write(() => {
        const batch = this.s().expiredKeys.all(now, want);
        for (const { key } of batch) this.deleteRow(key, false);
        return batch.length;
      });
      total += n;
      if (n < want) break;
    }
    return total;
  }

  /**
   * Drops delete records (tombstones) older than `before` (epoch ms) from the commit log.
   * Off by default: a client that last synced before `before` will not learn of those
   * deletes. For stores where short-lived keys leave many tombstones. Returns how many.
   */
  pruneTombstones(before: number): number {
    checkTime("before", before);
    return this.write(() => this.s().pruneTombstones.run(before).changes);
  }

  /**
   * Writes a consistent copy of the store to `destFile` while it stays open (no other process
   * can read the live file). Restore by placing the copy as `store.sqlite` in a storage dir.
   */
  async backup(destFile: string): Promise<void> {
    if (!this.db) throw new StoreClosedError();
    if (resolve(destFile).startsWith(resolve(dbPath(this.dir)))) {
      throw new TypeError("backup destination must not be the store's own files");
    }
    await this.db.backup(destFile);
  }

  /** SQLite's quick_check over the whole file: [] when sound, else its messages. Reads it all. */
  checkIntegrity(): string[] {
    if (!this.db) throw new StoreClosedError();
    const rows = this.db.pragma("quick_check") as Array<{ quick_check: string }>;
    const messages = rows.map((r) => r.quick_check);
    return messages.length === 1 && messages[0] === "ok" ? [] : messages;
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

function checkTimes(opts: PutOptions): void {
  checkTime("expiresAt", opts.expiresAt);
  checkTime("availableAt", opts.availableAt);
}

function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

// A global or sticky regex keeps lastIndex between test() calls; matching each key on its own
// needs a copy without those flags.
function statelessCopy(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, "")) : re;
}
