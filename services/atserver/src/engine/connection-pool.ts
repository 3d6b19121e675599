// Inbound connections: the cap, and idle limits that shrink as the pool fills (Part B §2.5):
// allowed = min + (max − min)·(1 − (n − lwm)/(cap − lwm)) once n passes lwm = cap/2.
import type { Connection } from "./connection";

export interface PoolLimits {
  cap(): number;
  unauthIdleMs: number;
  authIdleMs: number;
}

const UNAUTH_MIN_MS = 5_000;
const AUTH_MIN_MS = 60_000;

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

  isWithinIdle(c: Connection): boolean {
    const authenticated = c.session.isOwner || c.session.polAtSign !== undefined;
    return this.now() - c.lastWriteAt <= this.allowedIdleMs(authenticated);
  }

  /** Closes connections past their idle limit. Returns how many. */
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

  /** Admits a new connection unless the pool is full even after reaping idle ones. */
  admit(c: Connection): boolean {
    if (this.conns.size >= this.limits.cap()) this.reap();
    if (this.conns.size >= this.limits.cap()) return false;
    this.conns.add(c);
    c.idleCheck = () => this.isWithinIdle(c);
    c.onClose(() => this.conns.delete(c));
    return true;
  }

  closeAll(): void {
    for (const c of [...this.conns]) c.close();
  }
}
