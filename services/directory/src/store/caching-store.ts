// An in-process cache in front of a slower store (Redis, the upstream root).
// - Fresh entries (younger than ttlMs and not invalidated) are answered directly.
// - Concurrent misses for one atSign share one fetch.
// - When the inner store fails, a known address is answered from the cache even if it
//   is stale ("stale-if-error"); a cached `null` is never used that way, because an
//   unknown answer while the store is down could be wrong.
// - A fetch that started before an invalidation is returned but not cached, so an
//   invalidation can never be undone by a slow, older read.
// - Stale-while-revalidate, only while `invalidationsLive()` says change messages are
//   arriving: an entry past its TTL (but younger than maxStaleMs and not invalidated) is
//   answered at once and refreshed in the background. Changes then reach the cache
//   through the invalidation in milliseconds; the TTL only covers a lost message, and
//   for that case the bound becomes "the TTL, plus the one lookup that starts the
//   refresh". While the channel is down, expired entries are fetched before answering.
import { StoreUnavailableError } from "../errors";
import type { DirectoryMetrics } from "../metrics";
import type { DirectoryStore, LookupResult } from "./types";

export interface CachingStoreOptions {
  /** Label for metrics ("redis", "upstream"). */
  name: string;
  ttlMs: number;
  /** Cache unknown answers too (the Redis path: cheap answers to enumeration attempts). */
  cacheNegative: boolean;
  /** Bound on the number of entries; the oldest are dropped first. */
  maxEntries?: number;
  /** Answer expired entries up to this age while refreshing them (0 = never). */
  maxStaleMs?: number;
  /** True while invalidation messages are known to arrive (enables stale-while-revalidate). */
  invalidationsLive?: () => boolean;
  metrics?: DirectoryMetrics;
  now?: () => number;
}

interface Entry {
  value: string | null;
  expires: number;
  epoch: number;
  /** Queued for a background refresh (stale-while-revalidate). */
  refreshing?: boolean;
}

const never = () => false;
/** How long background refreshes are collected before one lookupMany reads them. */
const REFRESH_BATCH_MS = 20;
const REFRESH_BATCH_KEYS = 256;

export class CachingStore implements DirectoryStore {
  private inner?: DirectoryStore;
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string | null>>();
  /** Bumped by every invalidation; entries older than `validEpoch` are stale. */
  private generation = 0;
  private validEpoch = 0;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly invalidationsLive: () => boolean;
  private readonly hit: () => void;
  private readonly miss: () => void;
  private readonly revalidated: () => void;
  private refreshQueue: string[] = [];
  private refreshTimer?: NodeJS.Timeout;

  constructor(private readonly opts: CachingStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? 200_000;
    // A TTL of 0 turns the cache off; it must not come back as stale answers.
    this.maxStaleMs = opts.ttlMs > 0 ? (opts.maxStaleMs ?? 0) : 0;
    this.invalidationsLive = opts.invalidationsLive ?? never;
    const noop = () => undefined;
    this.hit = opts.metrics?.cache.bind({ cache: opts.name, result: "hit" }) ?? noop;
    this.miss = opts.metrics?.cache.bind({ cache: opts.name, result: "miss" }) ?? noop;
    this.revalidated = opts.metrics?.cache.bind({ cache: opts.name, result: "revalidate" }) ?? noop;
  }

  setInner(inner: DirectoryStore): void {
    this.inner = inner;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(atsign: string): LookupResult {
    const entry = this.entries.get(atsign);
    if (entry && entry.epoch >= this.validEpoch) {
      const now = this.now();
      if (entry.expires > now) {
        this.hit();
        return entry.value;
      }
      if (entry.expires + this.maxStaleMs > now && this.invalidationsLive()) {
        this.revalidated();
        this.staleAge(now - entry.expires);
        if (!entry.refreshing) this.queueRefresh(atsign, entry);
        return entry.value;
      }
    }
    const shared = this.inflight.get(atsign);
    if (shared) return shared;
    this.miss();
    return this.begin(atsign, entry);
  }

  private begin(atsign: string, previous: Entry | undefined): Promise<string | null> {
    const fetch = this.fetch(atsign, previous).finally(() => this.inflight.delete(atsign));
    this.inflight.set(atsign, fetch);
    return fetch;
  }

  /**
   * Background refreshes are collected for up to REFRESH_BATCH_MS (or REFRESH_BATCH_KEYS
   * keys) and read with one lookupMany (an MGET for Redis): nobody waits for them, and a
   * busy turn holds only a few lookups, so waiting a little turns many one-key commands
   * into one large one - a refresh then costs about a key in a command.
   */
  private queueRefresh(atsign: string, entry: Entry): void {
    entry.refreshing = true;
    const queued = this.refreshQueue.push(atsign);
    if (queued === 1) {
      this.refreshTimer = setTimeout(() => void this.refresh(), REFRESH_BATCH_MS);
      this.refreshTimer.unref();
    } else if (queued >= REFRESH_BATCH_KEYS) {
      clearTimeout(this.refreshTimer);
      void this.refresh();
    }
  }

  private async refresh(): Promise<void> {
    // An entry replaced or dropped by a change message since it was queued is not read
    // again: the replica read may lag behind the message and bring the old answer back.
    const keys = this.refreshQueue.filter((k) => this.entries.get(k)?.refreshing === true);
    this.refreshQueue = [];
    this.refreshTimer = undefined;
    if (keys.length === 0) return;
    const startedAt = this.generation;
    const inner = this.inner!;
    let values: (string | null)[];
    try {
      values = inner.lookupMany
        ? await inner.lookupMany(keys)
        : await Promise.all(keys.map((k) => inner.lookup(k)));
    } catch {
      this.opts.metrics?.storeErrors.inc({ source: this.opts.name });
      for (const k of keys) {
        const e = this.entries.get(k);
        if (e) e.refreshing = false;
      }
      return;
    }
    keys.forEach((k, i) => this.store(k, values[i] ?? null, startedAt));
  }

  /** Caches a read that started at generation `startedAt`, unless an invalidation came since. */
  private store(atsign: string, value: string | null, startedAt: number): void {
    if (this.generation === startedAt && (value !== null || this.opts.cacheNegative)) {
      this.entries.delete(atsign);
      this.entries.set(atsign, {
        value,
        expires: this.now() + this.opts.ttlMs,
        epoch: this.generation,
      });
      if (this.entries.size > this.maxEntries) {
        this.entries.delete(this.entries.keys().next().value!);
      }
    } else if (value === null) {
      // An entry from before this read may be a deleted record's address (kept for
      // stale-if-error); one set since (an update from a message) is newer than this read.
      const e = this.entries.get(atsign);
      if (e && e.epoch <= startedAt) this.entries.delete(atsign);
      else if (e) e.refreshing = false;
    } else {
      const e = this.entries.get(atsign);
      if (e) e.refreshing = false;
    }
  }

  private async fetch(atsign: string, previous: Entry | undefined): Promise<string | null> {
    const startedAt = this.generation;
    let value: string | null;
    try {
      value = await this.inner!.lookup(atsign);
    } catch (err) {
      this.opts.metrics?.storeErrors.inc({ source: this.opts.name });
      if (previous && previous.value !== null) {
        this.count("stale");
        this.staleAge(this.now() - previous.expires);
        return previous.value;
      }
      throw err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError(`${this.opts.name}: ${(err as Error).message}`, { cause: err });
    }
    this.store(atsign, value, startedAt);
    return value;
  }

  /** A record changed: forget it (a stale copy is not even kept for errors). */
  invalidate(atsign: string): void {
    this.generation++;
    this.entries.delete(atsign);
  }

  /**
   * A record changed and the message carries its new value (from the primary, in
   * order): cached at once, so no read from a replica that lags behind the one that
   * delivered the message can put the old answer back.
   */
  update(atsign: string, value: string | null): void {
    this.generation++;
    this.entries.delete(atsign);
    if (this.opts.ttlMs > 0) this.store(atsign, value, this.generation);
  }

  /** Invalidations may have been missed (pub/sub reconnected): refetch everything. */
  expireAll(): void {
    this.generation++;
    this.validEpoch = this.generation;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  ready(): boolean {
    return this.inner?.ready() ?? false;
  }

  async start(): Promise<void> {
    await this.inner?.start();
  }

  async close(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.refreshQueue = [];
    await this.inner?.close();
    this.entries.clear();
  }

  private staleAge(ms: number): void {
    this.opts.metrics?.staleAge.observe(Math.max(0, ms) / 1000, { cache: this.opts.name });
  }

  private count(result: string): void {
    this.opts.metrics?.cache.inc({ cache: this.opts.name, result });
  }
}
