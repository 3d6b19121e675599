// APKAM enrollments (Part B §3.26-3.27, §5.4): per app+device keys with namespace rights,
// requested with an OTP (or by an authenticated client) and approved by a manager.
import { randomInt, randomUUID } from "node:crypto";
import {
  AtError,
  AuthFailedError,
  EnrollmentStateError,
  InternalServerException,
  KeyNotFoundError,
  UnauthorizedError,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import { allows, ALL_NAMESPACES, coveringGrant, hasManage, MANAGE_NAMESPACE } from "./access";
import { validateEnrollParams, validateRequest } from "./enroll-params";

export type EnrollmentState = "pending" | "approved" | "denied" | "revoked";

export interface EnrollmentRecord {
  sessionId: string;
  appName: string;
  deviceName: string;
  namespaces: Record<string, string>;
  apkamPublicKey: string;
  requestType: "newEnrollment";
  approval: { state: EnrollmentState };
  encryptedAPKAMSymmetricKey?: string;
  apkamKeysExpiryInMillis: number;
}

export interface EnrollRequest {
  enrollmentId?: string;
  appName?: string;
  deviceName?: string;
  namespaces?: Record<string, string>;
  otp?: string;
  apkamPublicKey?: string;
  encryptedDefaultEncryptionPrivateKey?: string;
  encryptedDefaultSelfEncryptionKey?: string;
  encryptedAPKAMSymmetricKey?: string;
  enrollmentStatusFilter?: string[];
  apkamKeysExpiryInMillis?: number;
}

const PENDING_TTL_MS = 48 * 3600_000;
const OTP_TTL_MS = 5 * 60_000;
const OTP_CHARS = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"; // no 0 and no O
const FIB_CAP_MS = 55_000;

/** How the refusal of a state change names the operation (the reference's words). */
const STATE_CHANGE_WORDS = {
  approve: ["approve", "approved"],
  deny: ["deny", "denied"],
  revoke: ["revoke", "revoked"],
  unrevoke: ["un-revoke", "un-revoked"],
  delete: ["delete", "deleted"],
} as const;

export function enrollmentKey(id: string, atSign: string): string {
  return `${id}.new.enrollments.__manage${atSign}`;
}

export function sppKey(atSign: string): string {
  return `private:spp.__otp${atSign}`;
}

function otpKey(otp: string, atSign: string): string {
  return `private:${otp.toLowerCase()}.__otp${atSign}`;
}

/** Server-wide back-off after a bad OTP: 1 s, 2 s, 3 s, 5 s, 8 s … (reset after 55 s quiet). */
class OtpBackoff {
  private a = 0;
  private b = 1000;
  private last = 0;
  next(now: number): number {
    if (now - this.last > FIB_CAP_MS) {
      this.a = 0;
      this.b = 1000;
    }
    this.last = now;
    const d = Math.min(this.b, FIB_CAP_MS);
    [this.a, this.b] = [this.b, this.a + this.b];
    return d;
  }
}

/** Told when an enrollment is revoked; `by` is the connection that revoked it. */
export type RevokeListener = (enrollmentId: string, by: Session) => void;

export class Enrollments {
  private readonly backoff = new OtpBackoff();
  private readonly revokeListeners: RevokeListener[] = [];

  constructor(private readonly ctx: ServerContext) {}

  private get atSign(): string {
    return this.ctx.atSign;
  }

  find(id: string): EnrollmentRecord | undefined {
    const r = this.ctx.keys.active(enrollmentKey(id, this.atSign));
    if (!r?.value) return undefined;
    try {
      return JSON.parse(r.value) as EnrollmentRecord;
    } catch {
      return undefined;
    }
  }

  /** When the record (and so the enrollment's keys) expires; undefined = never. */
  expiresAt(id: string): number | undefined {
    return this.ctx.keys.active(enrollmentKey(id, this.atSign))?.metadata.expiresAt;
  }

  onRevoke(fn: RevokeListener): void {
    this.revokeListeners.push(fn);
  }

  /**
   * Writes the record with an explicit lifetime: `ttlMs` > 0 expires it then, 0 never, and
   * `"keep"` keeps the current expiry instant (a state change must neither extend the
   * 48 h of a pending request or the apkamKeysExpiryInMillis of approved keys, nor drop them).
   */
  private save(id: string, rec: EnrollmentRecord, ttlMs: number | "keep"): void {
    let ttl = ttlMs;
    if (ttl === "keep") {
      const at = this.expiresAt(id);
      ttl = at === undefined ? 0 : Math.max(1, at - this.ctx.now());
    }
    this.ctx.keys.putUnsynced(enrollmentKey(id, this.atSign), JSON.stringify(rec), { ttl });
  }

  /** A fresh OTP: 6 characters, at least one digit, no 0 or O. */
  newOtp(ttlMs = OTP_TTL_MS): string {
    let otp = "";
    while (!/\d/.test(otp)) {
      otp = Array.from({ length: 6 }, () => OTP_CHARS[randomInt(OTP_CHARS.length)]).join("");
    }
    this.ctx.keys.putUnsynced(otpKey(otp, this.atSign), "otp", { ttl: ttlMs });
    return otp;
  }

  putSpp(code: string, ttlMs?: number): void {
    this.ctx.keys.putUnsynced(sppKey(this.atSign), code, ttlMs ? { ttl: ttlMs } : {});
  }

  /** SPP (case-insensitive) or a one-time OTP (used up). */
  private checkOtp(otp: string | undefined): boolean {
    if (!otp) return false;
    const spp = this.ctx.keys.active(sppKey(this.atSign))?.value;
    if (spp && spp.toLowerCase() === otp.toLowerCase()) return true;
    const key = otpKey(otp, this.atSign);
    if (this.ctx.keys.active(key)) {
      this.ctx.keys.delete(key);
      return true;
    }
    return false;
  }

  private rateLimit(s: Session): void {
    const now = this.ctx.now();
    const frame = this.ctx.runtime.int("timeFrameInMills");
    const max = this.ctx.runtime.int("maxRequestsPerTimeFrame");
    s.enrollRequests = s.enrollRequests.filter((t) => now - t < frame);
    if (s.enrollRequests.length >= max) {
      throw new InternalServerException(
        "Enrollment requests have exceeded the limit within the specified time frame",
      );
    }
    s.enrollRequests.push(now);
  }

  private duplicate(req: EnrollRequest): void {
    for (const key of this.ctx.keys.store.keys({ regex: /\.new\.enrollments\.__manage@/ })) {
      const id = key.slice(0, key.indexOf(".new.enrollments"));
      const rec = this.find(id);
      if (!rec || rec.appName !== req.appName || rec.deviceName !== req.deviceName) continue;
      const state = rec.approval.state;
      if (state === "pending" || state === "approved") {
        throw new InternalServerException(
          `Another enrollment with id ${id} exists with the app name: ${req.appName} and device name: ${req.deviceName} in ${state} state`,
        );
      }
    }
  }

  async request(s: Session, req: EnrollRequest): Promise<Record<string, string>> {
    validateRequest(req);
    this.rateLimit(s);
    if (!s.isOwner) {
      if (!this.checkOtp(req.otp)) {
        await new Promise((r) => setTimeout(r, this.backoff.next(this.ctx.now())));
        throw new InternalServerException("invalid otp. Cannot process enroll request");
      }
    }
    this.duplicate(req);
    const id = randomUUID();
    const rec: EnrollmentRecord = {
      sessionId: s.id,
      appName: req.appName,
      deviceName: req.deviceName,
      namespaces: { ...(req.namespaces ?? {}) },
      apkamPublicKey: req.apkamPublicKey,
      requestType: "newEnrollment",
      approval: { state: "pending" },
      encryptedAPKAMSymmetricKey: req.encryptedAPKAMSymmetricKey,
      apkamKeysExpiryInMillis: req.apkamKeysExpiryInMillis ?? 0,
    };
    if (s.auth === "cram") {
      // Bootstrap: the CRAM client enrolls itself with full rights.
      rec.namespaces = { ...rec.namespaces, [MANAGE_NAMESPACE]: "rw", [ALL_NAMESPACES]: "rw" };
      this.storeKeys(id, req);
      this.approve(id, rec);
      s.enrollmentId = id;
      s.namespaces = rec.namespaces;
      this.ctx.keys.putUnsynced("privatekey:at_pkam_publickey", req.apkamPublicKey);
      return { enrollmentId: id, status: "approved" };
    }
    this.save(id, rec, PENDING_TTL_MS);
    this.ctx.notifications?.selfNotify(
      enrollmentKey(id, this.atSign),
      JSON.stringify({
        encryptedApkamSymmetricKey: rec.encryptedAPKAMSymmetricKey,
        encryptedAPKAMSymmetricKey: rec.encryptedAPKAMSymmetricKey,
        appName: rec.appName,
        deviceName: rec.deviceName,
        namespace: rec.namespaces,
      }),
    );
    return { enrollmentId: id, status: "pending" };
  }

  /** A CRAM bootstrap may come without the keys: stored as `{"value":null}`, as the reference. */
  private storeKeys(id: string, req: EnrollRequest): void {
    const a = this.atSign;
    this.ctx.keys.putUnsynced(
      `${id}.default_enc_private_key.__manage${a}`,
      JSON.stringify({ value: req.encryptedDefaultEncryptionPrivateKey ?? null }),
    );
    this.ctx.keys.putUnsynced(
      `${id}.default_self_enc_key.__manage${a}`,
      JSON.stringify({ value: req.encryptedDefaultSelfEncryptionKey ?? null }),
    );
  }

  private approve(id: string, rec: EnrollmentRecord): void {
    rec.approval = { state: "approved" };
    this.save(id, rec, rec.apkamKeysExpiryInMillis > 0 ? rec.apkamKeysExpiryInMillis : 0);
    this.ctx.keys.putUnsynced(
      `public:${rec.appName}.${rec.deviceName}.pkam.__pkams.__public_keys${this.atSign}`.toLowerCase(),
      JSON.stringify({ apkamPublicKey: rec.apkamPublicKey }),
    );
  }

  /** approve, deny, revoke, unrevoke, delete (§5.4 state machine). */
  change(
    s: Session,
    op: "approve" | "deny" | "revoke" | "unrevoke" | "delete",
    req: EnrollRequest,
    force: boolean,
  ): Record<string, string> {
    if (!s.isOwner) throw new AuthFailedError(`Cannot ${op} enrollment without authentication`);
    validateEnrollParams(op, req);
    const id = req.enrollmentId ?? "";
    const rec = this.find(id);
    if (!rec && op === "delete") throw new KeyNotFoundError(enrollmentKey(id, this.atSign));
    if (!rec)
      throw new EnrollmentStateError("AT0028", `enrollment_id: ${id} is expired or invalid`);
    // A client may always act on its own enrollment (revoke needs :force); others need __manage.
    if (s.enrollmentId !== id) this.requireManager(s, op, id, rec);
    const state = rec.approval.state;
    const refuse = (allowed: string) => {
      const [verb, done] = STATE_CHANGE_WORDS[op];
      throw new InternalServerException(
        `Failed to ${op} enrollment id: ${id}. Cannot ${verb} a ${state} enrollment. Only ${allowed} enrollments can be ${done}`,
      );
    };
    switch (op) {
      case "approve":
        if (state !== "pending") refuse("pending");
        this.storeKeys(id, req);
        this.approve(id, rec);
        return { status: "approved", enrollmentId: id };
      case "deny":
        if (state !== "pending") refuse("pending");
        rec.approval = { state: "denied" };
        this.save(id, rec, "keep");
        return { status: "denied", enrollmentId: id };
      case "revoke": {
        if (state !== "approved") refuse("approved");
        if (s.enrollmentId === id && !force) {
          throw new RevokeSelfError();
        }
        rec.approval = { state: "revoked" };
        this.save(id, rec, "keep");
        const out: Record<string, string> = { status: "revoked", enrollmentId: id };
        if (s.enrollmentId === id)
          out.message = "Enrollment is revoked. Closing the connection in 10 seconds";
        // Live connections of this enrollment are closed (the revoker's own after a delay).
        for (const fn of this.revokeListeners) fn(id, s);
        return out;
      }
      case "unrevoke":
        if (state !== "revoked") refuse("revoked");
        rec.approval = { state: "approved" };
        this.save(id, rec, "keep");
        return { status: "approved", enrollmentId: id };
      case "delete":
        if (state !== "denied" && state !== "revoked") {
          throw new InternalServerException(
            `Failed to delete enrollment id: ${id} | Cause: Cannot delete ${state} enrollments. Only denied and revoked enrollments can be deleted`,
          );
        }
        this.ctx.keys.delete(enrollmentKey(id, this.atSign));
        return { enrollmentId: id, status: "deleted" };
    }
  }

  /**
   * An approver (or denier, revoker …) must hold `__manage` (r or rw) and cover every
   * requested namespace at the requested level: its covering grant (longest suffix, else `*`)
   * must be rw, or r for a namespace requested r. CRAM/PKAM connections have all rights.
   */
  private requireManager(s: Session, op: string, id: string, rec: EnrollmentRecord): void {
    if (s.auth !== "apkam" || !s.namespaces) return;
    const ns = s.namespaces;
    const covered = (name: string, wanted: string) =>
      allows(
        name === ALL_NAMESPACES ? ns[ALL_NAMESPACES] : coveringGrant(ns, name)?.access,
        wanted === "rw",
      );
    const failed = `Failed to ${op} enrollment id: ${id}.`;
    if (!hasManage(s)) {
      throw new InternalServerException(
        `${failed} The approving enrollment does not have access to "__manage" namespace`,
      );
    }
    if (Object.entries(rec.namespaces).some(([name, wanted]) => !covered(name, wanted))) {
      throw new InternalServerException(
        `${failed} Client is not authorized for namespaces in the enrollment request`,
      );
    }
  }

  /** Without `__manage`, an APKAM connection lists only its own enrollment. */
  list(s: Session, req: EnrollRequest): Record<string, unknown> {
    if (!s.isOwner) throw new AuthFailedError("Cannot list enrollment without authentication");
    const out: Record<string, unknown> = {};
    for (const key of this.ctx.keys.store.keys({ regex: /\.new\.enrollments\.__manage@/ })) {
      const id = key.slice(0, key.indexOf(".new.enrollments"));
      if (!hasManage(s) && id !== s.enrollmentId) continue;
      const rec = this.find(id);
      if (!rec) continue;
      if (req.enrollmentStatusFilter && !req.enrollmentStatusFilter.includes(rec.approval.state))
        continue;
      out[key] = this.view(rec);
    }
    return out;
  }

  fetch(s: Session, req: EnrollRequest): Record<string, unknown> {
    if (!s.isOwner) throw new AuthFailedError("Cannot fetch enrollment without authentication");
    validateEnrollParams("fetch", req);
    const id = req.enrollmentId ?? "";
    if (!hasManage(s) && id !== s.enrollmentId) {
      throw new UnauthorizedError(
        `Connection with enrollment ID ${s.enrollmentId} is not authorized to fetch enrollment id: ${id}`,
      );
    }
    const rec = this.find(id);
    if (!rec) throw new KeyNotFoundError(enrollmentKey(id, this.atSign));
    return this.view(rec);
  }

  private view(rec: EnrollmentRecord): Record<string, unknown> {
    return {
      appName: rec.appName,
      deviceName: rec.deviceName,
      namespace: rec.namespaces,
      encryptedAPKAMSymmetricKey: rec.encryptedAPKAMSymmetricKey,
      status: rec.approval.state,
    };
  }

  /** For `pkam:enrollmentId:<id>:…`: the approved record, or the state error (§5.2). */
  forPkam(id: string): EnrollmentRecord {
    const rec = this.find(id);
    if (!rec)
      throw new EnrollmentStateError("AT0028", `enrollment_id: ${id} is expired or invalid`);
    const st = rec.approval.state;
    if (st === "denied") throw new EnrollmentStateError("AT0025", `enrollment_id: ${id} is denied`);
    if (st === "pending")
      throw new EnrollmentStateError("AT0026", `enrollment_id: ${id} is pending`);
    if (st === "revoked")
      throw new EnrollmentStateError("AT0027", `enrollment_id: ${id} is revoked`);
    return rec;
  }

  /** An APKAM connection stays valid while its enrollment is approved and unexpired. */
  stillValid(s: Session): boolean {
    if (s.auth !== "apkam" || !s.enrollmentId) return true;
    return this.find(s.enrollmentId)?.approval.state === "approved";
  }
}

export class RevokeSelfError extends AtError {
  override name = "RevokeSelfError";
  constructor() {
    super("AT0031", "Current client cannot revoke its own enrollment");
  }
}
