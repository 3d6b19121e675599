// In-memory usage counters for `stats` 5 (topAtSigns) and 6 (topKeys), and the last run of
// each housekeeping job (`stats` 12/13/14). Not persisted: counts restart with the process.

/** Counts per name, bounded: past 2×cap entries it keeps only the cap highest counts. */
export class UsageCounter {
  private readonly counts = new Map<string, number>();

  constructor(readonly cap: number) {}

  get size(): number {
    return this.counts.size;
  }

  add(name: string): void {
    const n = this.counts.get(name);
    if (n !== undefined) {
      this.counts.set(name, n + 1);
      return;
    }
    if (this.counts.size >= 2 * this.cap) this.trim();
    this.counts.set(name, 1);
  }

  /** Drops all but the `cap` highest counts; returns how many entries went. */
  trim(): number {
    if (this.counts.size <= this.cap) return 0;
    const keep = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, this.cap);
    const removed = this.counts.size - keep.length;
    this.counts.clear();
    for (const [k, v] of keep) this.counts.set(k, v);
    return removed;
  }

  /** The `n` highest counts, highest first (ties: first seen first), as an object. */
  top(n: number): Record<string, number> {
    const sorted = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, n);
    return Object.fromEntries(sorted);
  }
}

/** What one housekeeping run did (reference field names, values as the reference's strings). */
export interface JobRun {
  atCompactionType: string;
  lastCompactionRun: string;
  compactionDurationInMills: string;
  preCompactionEntriesCount: string;
  postCompactionEntriesCount: string;
  deletedKeysCount: string;
}

export type JobName = "commitLog" | "accessLog" | "notifications";

const TOP = 10;
const CAP = 500;

export class Usage {
  /** Requesting atSigns of lookups/plookups of this server's keys and of `pol`. */
  readonly atSigns = new UsageCounter(CAP);
  /** Keys of this server found by lookup/plookup. */
  readonly keys = new UsageCounter(CAP);
  readonly jobs = new Map<JobName, JobRun>();

  lookedUp(atSign: string | undefined, key: string): void {
    if (atSign) this.atSigns.add(atSign);
    this.keys.add(key);
  }

  topAtSigns(): Record<string, number> {
    return this.atSigns.top(TOP);
  }

  topKeys(): Record<string, number> {
    return this.keys.top(TOP);
  }

  record(
    job: JobName,
    type: string,
    startedAt: number,
    durationMs: number,
    pre: number | null,
    post: number | null,
    deleted: number,
  ): void {
    this.jobs.set(job, {
      atCompactionType: type,
      lastCompactionRun: new Date(startedAt).toISOString(),
      compactionDurationInMills: String(durationMs),
      preCompactionEntriesCount: pre === null ? "null" : String(pre),
      postCompactionEntriesCount: post === null ? "null" : String(post),
      deletedKeysCount: String(deleted),
    });
  }
}
