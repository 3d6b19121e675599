// The global connection cap. Each connection carries its own last-activity time (set on
// every lookup, which costs nothing on the hot path); only when the cap is reached is the
// set scanned for the longest-idle connection that is not in the middle of an answer.

export interface Tracked {
  /** When the connection last started a lookup (or was opened), in ms. */
  readonly lastActive: number;
  /** True while a lookup is being answered; such connections are not evicted. */
  readonly busy: boolean;
  destroy(reason: string): void;
}

export class ConnectionTracker<T extends Tracked> {
  private readonly conns = new Set<T>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.conns.size;
  }

  /** Registers a new connection, first closing the longest-idle one(s) at the cap. */
  add(conn: T): void {
    while (this.conns.size >= this.max) {
      const victim = this.longestIdle();
      if (!victim) break;
      this.conns.delete(victim);
      victim.destroy("connection cap");
    }
    this.conns.add(conn);
  }

  remove(conn: T): void {
    this.conns.delete(conn);
  }

  all(): T[] {
    return [...this.conns];
  }

  /** Connections idle since before `cutoff` (ms), for the idle reaper. */
  idleBefore(cutoff: number): T[] {
    return this.all().filter((c) => c.lastActive < cutoff && !c.busy);
  }

  private longestIdle(): T | undefined {
    let best: T | undefined;
    let fallback: T | undefined;
    for (const conn of this.conns) {
      if (conn.busy) {
        if (!fallback || conn.lastActive < fallback.lastActive) fallback = conn;
      } else if (!best || conn.lastActive < best.lastActive) {
        best = conn;
      }
    }
    return best ?? fallback;
  }
}
