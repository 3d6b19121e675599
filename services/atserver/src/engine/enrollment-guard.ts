// Ends live APKAM connections when their enrollment stops being valid (Part B §5.4), at once
// rather than at their next command (the dispatcher's check stays as a backstop):
// - revocation by another connection closes every connection of that enrollment, monitors
//   included, without a reply; the connection that revoked its own enrollment
//   (`enroll:revoke:force`) is closed after `selfRevokeCloseMs` (10 s on the wire);
// - an enrollment whose keys expire (apkamKeysExpiryInMillis) closes its connections when the
//   expiry passes: one unref'd timer per such connection, armed when it authenticates and
//   cleared when it closes (cost bounded by the inbound connection cap).
import type { Enrollments } from "../apkam/enrollments";
import type { Logger } from "../logger";
import type { Connection } from "./connection";
import type { ConnectionPool } from "./connection-pool";
import type { Session } from "./session";

/** The reference's delay before closing a connection that revoked its own enrollment. */
export const SELF_REVOKE_CLOSE_MS = 10_000;
/** setTimeout's ceiling (~24.8 days); longer expiries re-arm when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface EnrollmentGuardOptions {
  selfRevokeCloseMs: number;
  log: Logger;
}

export class EnrollmentGuard {
  private readonly expiryTimers = new Map<Connection, NodeJS.Timeout>();
  /** The enrollment each watched connection had when last looked at. */
  private readonly seen = new WeakMap<Connection, string | undefined>();

  constructor(
    private readonly pool: ConnectionPool,
    private readonly enrollments: Enrollments,
    private readonly now: () => number,
    private readonly opts: EnrollmentGuardOptions,
  ) {
    enrollments.onRevoke((id, by) => this.revoked(id, by));
  }

  /** Number of armed expiry timers (for tests and stats). */
  get armed(): number {
    return this.expiryTimers.size;
  }

  /** After each command: (re)arms the expiry timer when the connection's enrollment changed. */
  watch(c: Connection): void {
    if (c.isClosed) return;
    const id = c.session.auth === "apkam" ? c.session.enrollmentId : undefined;
    if (this.seen.has(c) && this.seen.get(c) === id) return;
    if (!this.seen.has(c)) c.onClose(() => this.disarm(c));
    this.seen.set(c, id);
    this.disarm(c);
    if (id !== undefined) this.arm(c, id);
  }

  private arm(c: Connection, id: string): void {
    const at = this.enrollments.expiresAt(id);
    if (at === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.now()));
    const t = setTimeout(() => this.expiryDue(c, id), delay);
    t.unref();
    this.expiryTimers.set(c, t);
  }

  private disarm(c: Connection): void {
    const t = this.expiryTimers.get(c);
    if (t) clearTimeout(t);
    this.expiryTimers.delete(c);
  }

  private expiryDue(c: Connection, id: string): void {
    this.expiryTimers.delete(c);
    if (c.isClosed || c.session.enrollmentId !== id) return;
    if (this.enrollments.stillValid(c.session)) {
      this.arm(c, id); // not yet (timer ceiling, or a clock that differs from ours)
      return;
    }
    this.opts.log.info({ session: c.session.id, enrollmentId: id }, "enrollment expired: closing");
    c.close();
  }

  private revoked(id: string, by: Session): void {
    for (const c of [...this.pool]) {
      if (c.session.enrollmentId !== id) continue;
      if (c.session === by) {
        by.revokedSelf = true;
        setTimeout(() => c.close(), this.opts.selfRevokeCloseMs).unref();
      } else if (c.session.auth === "apkam") {
        this.opts.log.info(
          { session: c.session.id, enrollmentId: id },
          "enrollment revoked: closing",
        );
        c.close();
      }
    }
  }
}
