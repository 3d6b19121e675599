// The global connection cap. Sessions are kept in a Map ordered by last activity
// (touch = delete + re-insert), so the longest-idle connection is the first entry and
// eviction is O(1) in the usual case.

export interface Tracked {
  /** True while a lookup is being answered; such connections are not evicted. */
  readonly busy: boolean;
  destroy(reason: string): void;
}

export class ConnectionTracker<T extends Tracked> {
  private readonly byActivity = new Map<T, number>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byActivity.size;
  }

  /** Registers a new connection, first closing the longest-idle one(s) at the cap. */
  add(conn: T): void {
    while (this.byActivity.size >= this.max) {
      const victim = this.longestIdle();
      if (!victim) break;
      this.byActivity.delete(victim);
      victim.destroy("connection cap");
    }
    this.byActivity.set(conn, Date.now());
  }

  touch(conn: T): void {
    if (!this.byActivity.delete(conn)) return;
    this.byActivity.set(conn, Date.now());
  }

  remove(conn: T): void {
    this.byActivity.delete(conn);
  }

  all(): T[] {
    return [...this.byActivity.keys()];
  }

  /** Idle time of each connection, oldest first (for tests and the idle reaper). */
  idleSince(): IterableIterator<[T, number]> {
    return this.byActivity.entries();
  }

  private longestIdle(): T | undefined {
    let fallback: T | undefined;
    for (const conn of this.byActivity.keys()) {
      if (!conn.busy) return conn;
      fallback ??= conn;
    }
    return fallback;
  }
}
