// An in-process cache in front of a slower store (Redis, the upstream root).
// - Fresh entries (younger than ttlMs and not invalidated) are answered directly.
// - Concurrent misses for one atSign share one fetch.
// - When the inner store fails, a known address is answered from the cache even if it
//   is stale ("stale-if-error"); a cached `null` is never used that way, because an
//   unknown answer while the store is down could be wrong.
// - A fetch that started before an invalidation is returned but not cached, so an
//   invalidation can never be undone by a slow, older read.
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
  metrics?: DirectoryMetrics;
  now?: () => number;
}

interface Entry {
  value: string | null;
  expires: number;
  epoch: number;
}

export class CachingStore implements DirectoryStore {
  private inner?: DirectoryStore;
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string | null>>();
  /** Bumped by every invalidation; entries older than `validEpoch` are stale. */
  private generation = 0;
  private validEpoch = 0;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly hit: () => void;
  private readonly miss: () => void;

  constructor(private readonly opts: CachingStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? 200_000;
    const noop = () => undefined;
    this.hit = opts.metrics?.cache.bind({ cache: opts.name, result: "hit" }) ?? noop;
    this.miss = opts.metrics?.cache.bind({ cache: opts.name, result: "miss" }) ?? noop;
  }

  setInner(inner: DirectoryStore): void {
    this.inner = inner;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(atsign: string): LookupResult {
    const entry = this.entries.get(atsign);
    if (entry && entry.expires > this.now() && entry.epoch >= this.validEpoch) {
      this.hit();
      return entry.value;
    }
    const shared = this.inflight.get(atsign);
    if (shared) return shared;
    this.miss();
    const fetch = this.fetch(atsign, entry).finally(() => this.inflight.delete(atsign));
    this.inflight.set(atsign, fetch);
    return fetch;
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
        return previous.value;
      }
      throw err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError(`${this.opts.name}: ${(err as Error).message}`, { cause: err });
    }
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
      this.entries.delete(atsign);
    }
    return value;
  }

  /** A record changed: forget it (a stale copy is not even kept for errors). */
  invalidate(atsign: string): void {
    this.generation++;
    this.entries.delete(atsign);
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
    await this.inner?.close();
    this.entries.clear();
  }

  private count(result: string): void {
    this.opts.metrics?.cache.inc({ cache: this.opts.name, result });
  }
}
