/** An answer now (file store, cache hit) or later (Redis, upstream). */
export type LookupResult = string | null | Promise<string | null>;

/**
 * Where atSigns are looked up. Keys arrive lower-cased, without any normalisation
 * beyond that (the wire contract looks `@alice` up literally).
 */
export interface DirectoryStore {
  /**
   * `host:port`, or `null` when the store is sure the atSign is unknown. Throws
   * StoreUnavailableError (or rejects with it) when it cannot tell: the caller must then
   * not answer `null`. Answers synchronously when it can: the hot path stays sync.
   */
  lookup(atsign: string): LookupResult;
  /** Several lookups in one round trip (optional; the cache's background refresh uses it). */
  lookupMany?(atsigns: string[]): Promise<(string | null)[]>;
  /** True when lookups can currently be answered (drives /readyz). */
  ready(): boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}
