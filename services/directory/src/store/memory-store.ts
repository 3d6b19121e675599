import type { DirectoryStore } from "./types";

/** An in-memory store: for tests, and as the empty local store of an upstream-only root. */
export class MemoryDirectoryStore implements DirectoryStore {
  private readonly records: Map<string, string>;

  constructor(records: Iterable<[string, string]> = []) {
    this.records = new Map(records);
  }

  set(atsign: string, hostPort: string): void {
    this.records.set(atsign, hostPort);
  }

  delete(atsign: string): void {
    this.records.delete(atsign);
  }

  lookup(atsign: string): string | null {
    return this.records.get(atsign) ?? null;
  }

  ready(): boolean {
    return true;
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {}
}
