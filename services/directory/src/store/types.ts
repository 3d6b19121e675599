/**
 * Where atSigns are looked up. Keys arrive lower-cased, without any normalisation
 * beyond that (the wire contract looks `@alice` up literally).
 */
export interface DirectoryStore {
  /**
   * `host:port`, or `null` when the store is sure the atSign is unknown. Throws
   * StoreUnavailableError when it cannot tell: the caller must then not answer `null`.
   */
  lookup(atsign: string): Promise<string | null>;
  /** True when lookups can currently be answered (drives /readyz). */
  ready(): boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}
