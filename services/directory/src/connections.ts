// The connection caps. Each connection carries its own last-activity time (set on every
// lookup, which costs nothing on the hot path) and its client IP; connections are also
// grouped by IP, so that
// - one IP holds at most `perIp` connections: its own longest-idle one makes room;
// - at the global cap the victim is the longest-idle connection of the IP holding the
//   most (exempt IPs are passed over while another IP has any), so a flood from a few
//   addresses evicts its own connections instead of idle clients elsewhere.
// The sets are scanned only when a cap is reached.
import type { AddressList } from "./address-list";

export interface Tracked {
  /** When the connection last started a lookup (or was opened), in ms. */
  readonly lastActive: number;
  /** True while a lookup is being answered; such connections are not evicted. */
  readonly busy: boolean;
  readonly remoteIp: string;
  destroy(reason: string): void;
}

export interface ConnectionLimits {
  max: number;
  /** Connections per client IP (0 = no per-IP cap). */
  perIp?: number;
  /** IPs the per-IP cap does not apply to. */
  exempt?: AddressList;
}

interface IpGroup<T> {
  conns: Set<T>;
  /** Looked up once per group: the scan at the cap must stay cheap. */
  exempt: boolean;
}

export class ConnectionTracker<T extends Tracked> {
  private readonly conns = new Set<T>();
  private readonly byIp = new Map<string, IpGroup<T>>();
  private readonly limits: ConnectionLimits;

  constructor(limits: number | ConnectionLimits) {
    this.limits = typeof limits === "number" ? { max: limits } : limits;
  }

  get size(): number {
    return this.conns.size;
  }

  get max(): number {
    return this.limits.max;
  }

  /** Registers a new connection, first making room under the per-IP and global caps. */
  add(conn: T): void {
    const perIp = this.limits.perIp ?? 0;
    const mine = this.byIp.get(conn.remoteIp);
    if (perIp > 0 && mine && !mine.exempt) {
      while (mine.conns.size >= perIp) this.evict(longestIdle(mine.conns)!, "ip connection cap");
    }
    while (this.conns.size >= this.limits.max) {
      const victim = longestIdle(this.heaviestIp() ?? this.conns);
      if (!victim) break;
      this.evict(victim, "connection cap");
    }
    this.conns.add(conn);
    let group = this.byIp.get(conn.remoteIp);
    if (!group) {
      group = { conns: new Set(), exempt: this.limits.exempt?.contains(conn.remoteIp) ?? false };
      this.byIp.set(conn.remoteIp, group);
    }
    group.conns.add(conn);
  }

  remove(conn: T): void {
    if (!this.conns.delete(conn)) return;
    const group = this.byIp.get(conn.remoteIp);
    group?.conns.delete(conn);
    if (group?.conns.size === 0) this.byIp.delete(conn.remoteIp);
  }

  all(): T[] {
    return [...this.conns];
  }

  /** Connections idle since before `cutoff` (ms), for the idle reaper. */
  idleBefore(cutoff: number): T[] {
    return this.all().filter((c) => c.lastActive < cutoff && !c.busy);
  }

  private evict(victim: T, reason: string): void {
    this.remove(victim);
    victim.destroy(reason);
  }

  /** The connections of the IP holding the most, preferring IPs that are not exempt. */
  private heaviestIp(): Set<T> | undefined {
    let best: IpGroup<T> | undefined;
    for (const group of this.byIp.values()) {
      if (
        !best ||
        (best.exempt && !group.exempt) ||
        (group.exempt === best.exempt && group.conns.size > best.conns.size)
      ) {
        best = group;
      }
    }
    return best?.conns;
  }
}

/** The longest-idle connection that is not answering, else the longest-idle busy one. */
function longestIdle<T extends Tracked>(conns: Iterable<T>): T | undefined {
  let best: T | undefined;
  let fallback: T | undefined;
  for (const conn of conns) {
    if (conn.busy) {
      if (!fallback || conn.lastActive < fallback.lastActive) fallback = conn;
    } else if (!best || conn.lastActive < best.lastActive) {
      best = conn;
    }
  }
  return best ?? fallback;
}
