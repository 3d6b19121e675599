// Inbound connections: the cap, and idle limits that shrink as the pool fills (Part B §2.5):
// allowed = min + (max − min)·(1 − (n − lwm)/(cap − lwm)) once n passes lwm = cap/2.
// Against floods of unauthenticated connections (one client holding the pool so that the
// owner cannot get in): a per-IP cap on unauthenticated connections, a lifetime for them,
// and a reserve of slots that only the owner's sessions keep (past cap − reserve non-owner
// connections, each new connection closes the oldest unauthenticated one).
import type { Connection } from "./connection";

export interface PoolLimits {
  cap(): number;
  unauthIdleMs: number;
  authIdleMs: number;
  /** Unauthenticated connections at the same time from one IP address. */
  perIp: number;
  /** Slots that unauthenticated and pol connections cannot keep. */
  ownerReserve: number;
  /** An unauthenticated connection is closed this long after it opened, busy or not. */
  unauthLifetimeMs: number;
}

const UNAUTH_MIN_MS = 5_000;
const AUTH_MIN_MS = 60_000;

/** `1.2.3.4` of `1.2.3.4:5678` (`[::1]:5678` and `::ffff:1.2.3.4:5678` alike). */
export function ipOf(remote: string): string {
  return remote.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}

function isUnauthenticated(c: Connection): boolean {
  return !c.session.isOwner && c.session.polAtSign === undefined;
}

export type Admission = "admitted" | "full" | "ip-limit";

export class ConnectionPool {
  private readonly conns = new Set<Connection>();

  constructor(
    private readonly limits: PoolLimits,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  [Symbol.iterator](): Iterator<Connection> {
    return this.conns[Symbol.iterator]();
  }

  /** Allowed idle time for a connection of this kind at the current pool size. */
  allowedIdleMs(authenticated: boolean): number {
    const max = authenticated ? this.limits.authIdleMs : this.limits.unauthIdleMs;
    const min = Math.min(max, authenticated ? AUTH_MIN_MS : UNAUTH_MIN_MS);
    const cap = this.limits.cap();
    const lwm = Math.floor(cap * 0.5);
    const n = this.conns.size;
    if (n <= lwm || cap <= lwm) return max;
    const f = Math.min(1, (n - lwm) / (cap - lwm));
    return Math.round(min + (max - min) * (1 - f));
  }

  /** Idle (nothing read) within its limit, and unauthenticated within its lifetime. */
  isWithinIdle(c: Connection): boolean {
    const unauth = isUnauthenticated(c);
    const now = this.now();
    if (unauth && now - c.createdAt > this.limits.unauthLifetimeMs) return false;
    return now - c.lastReadAt <= this.allowedIdleMs(!unauth);
  }

  /** Closes connections past their idle limit or lifetime. Returns how many. */
  reap(): number {
    let n = 0;
    for (const c of [...this.conns]) {
      if (!this.isWithinIdle(c)) {
        c.close();
        n++;
      }
    }
    return n;
  }

  /**
   * Admits a new connection unless its IP holds `perIp` unauthenticated ones already, or the
   * pool is full of connections none of which is unauthenticated (reaping idle ones first).
   * Past cap − reserve non-owner connections the oldest unauthenticated one makes room.
   */
  admit(c: Connection): Admission {
    const ip = ipOf(c.session.remote);
    let fromIp = 0;
    let nonOwner = 0;
    for (const o of this.conns) {
      if (isUnauthenticated(o) && ipOf(o.session.remote) === ip) fromIp++;
      if (!o.session.isOwner) nonOwner++;
    }
    if (fromIp >= this.limits.perIp) return "ip-limit";
    const cap = this.limits.cap();
    if (this.conns.size >= cap) this.reap();
    const share = Math.max(1, cap - this.limits.ownerReserve);
    if (this.conns.size >= cap || nonOwner >= share) this.closeOldestUnauthenticated();
    if (this.conns.size >= cap) return "full";
    this.conns.add(c);
    c.idleCheck = () => this.isWithinIdle(c);
    c.onClose(() => this.conns.delete(c));
    return "admitted";
  }

  private closeOldestUnauthenticated(): void {
    // Set order is arrival order: the first unauthenticated one is the oldest.
    for (const o of this.conns) {
      if (isUnauthenticated(o)) {
        o.close();
        return;
      }
    }
  }

  closeAll(): void {
    for (const c of [...this.conns]) c.close();
  }
}
