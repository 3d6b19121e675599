import type { DirectoryStore, LookupResult } from "./types";

/**
 * Upstream mode: the local store first; an atSign it does not know is asked of the
 * fallback (the upstream root). Failures of either propagate (never a guessed `null`).
 */
export class FallbackStore implements DirectoryStore {
  constructor(
    private readonly primary: DirectoryStore,
    private readonly fallback: DirectoryStore,
  ) {}

  lookup(atsign: string): LookupResult {
    const local = this.primary.lookup(atsign);
    if (local === null) return this.fallback.lookup(atsign);
    if (typeof local === "string") return local;
    return local.then((v) => (v === null ? this.fallback.lookup(atsign) : v));
  }

  ready(): boolean {
    return this.primary.ready();
  }

  async start(): Promise<void> {
    await this.primary.start();
    await this.fallback.start();
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }
}
