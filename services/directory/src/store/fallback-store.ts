import type { DirectoryStore } from "./types";

/**
 * Upstream mode: the local store first; an atSign it does not know is asked of the
 * fallback (the upstream root). Failures of either propagate (never a guessed `null`).
 */
export class FallbackStore implements DirectoryStore {
  constructor(
    private readonly primary: DirectoryStore,
    private readonly fallback: DirectoryStore,
  ) {}

  async lookup(atsign: string): Promise<string | null> {
    const local = await this.primary.lookup(atsign);
    if (local !== null) return local;
    return this.fallback.lookup(atsign);
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
