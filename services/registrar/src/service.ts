import { normalizeAtSign, randomAtSign, withAt } from "./atsign";
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  UnavailableError,
} from "./errors";
import { registrarLogger as log } from "./logger";
import { maskEmail, type Mailer } from "./mail/mailer";
import { newCramSecret, type Provisioner } from "./provisioning/provisioner";
import { activationKey, oneTimeCode, randomToken, safeEqual, sha256 } from "./secrets";
import type { RegistrarStore } from "./store/registrar-store";
import type { AtSignRecord, Session } from "./store/types";

export interface ServiceOptions {
  store: RegistrarStore;
  provisioner: Provisioner;
  mailer: Mailer;
  /** How long activation requests wait for the atServer to become active. Default 30 s. */
  activationWaitMs?: number;
  otpTtlMs?: number;
  sessionTtlMs?: number;
  /** Most active/provisioning atSigns one email may hold (0 = no limit). Default 10. */
  maxAtSignsPerEmail?: number;
  /** How long an unactivated reservation (email or API key) holds its name. Default 1 h. */
  reservationTtlMs?: number;
}

const OTP_ATTEMPTS = 5;
const EMAIL = /^[^\s@<>"'`]{1,64}@[^\s@<>"'`]{1,190}\.[^\s@<>"'`]{1,63}$/u;

export function normalizeEmail(input: unknown): string {
  if (typeof input !== "string") throw new BadRequestError("email must be a string");
  const email = input.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw new BadRequestError("invalid email address");
  return email;
}

export type VerifyResult =
  /** `cramSecret` only when waited for: the pages show it once the atServer is active. */
  | { kind: "verified"; atsign: string; cramSecret?: string }
  | { kind: "retry" }
  | { kind: "confirm"; atsign: string; existing: string[] };

/** What the registrar does, independent of HTTP: reservations, codes, sessions, lifecycle. */
export class RegistrarService {
  private readonly sendTimes = new Map<string, number[]>();

  constructor(private readonly o: ServiceOptions) {}

  private get reservationTtlMs(): number {
    return this.o.reservationTtlMs ?? 3600_000;
  }

  get store(): RegistrarStore {
    return this.o.store;
  }

  get provisioner(): Provisioner {
    return this.o.provisioner;
  }

  /** A name nobody holds right now (it is not reserved by this call). */
  suggestFreeAtSign(): string {
    for (let i = 0; i < 100; i++) {
      const name = randomAtSign();
      const rec = this.o.store.get(name);
      if (!rec || rec.state === "deleted") return name;
    }
    throw new UnavailableError("could not find a free atSign");
  }

  // --- API-key flow (v3) -------------------------------------------------------------

  /**
   * Reserves the given (or a random) atSign with an activation key. The key is shown only to
   * this caller: asking again for a name someone reserved is "not available" (unless the
   * caller presents that reservation's key, which proves it is theirs).
   */
  reserveWithKey(atSign?: string, key?: string): { atsign: string; activationKey: string } {
    const wanted = atSign ? normalizeAtSign(atSign) : undefined;
    if (key !== undefined && !/^[A-Za-z0-9_-]{4,128}$/.test(key))
      throw new BadRequestError("ActivationKey must be 4-128 letters, digits, '-' or '_'");
    for (let i = 0; i < 100; i++) {
      const atsign = wanted ?? this.suggestFreeAtSign();
      const k = key ?? activationKey();
      if (
        this.o.store.reserve(atsign, { activationKey: k, reservationTtlMs: this.reservationTtlMs })
      )
        return { atsign, activationKey: k };
      if (wanted) throw new ConflictError(`${withAt(atsign)} is not available`);
    }
    throw new UnavailableError("could not find a free atSign");
  }

  /**
   * Activates an atSign reserved with a key and returns its CRAM secret. A 503 (still being
   * provisioned) keeps the key valid for a retry; the answer carrying the secret consumes
   * both the key and the secret.
   */
  async activateWithKey(atSign: unknown, key: unknown): Promise<{ atsign: string; cram: string }> {
    const atsign = normalizeAtSign(atSign);
    const rec = this.o.store.get(atsign);
    if (
      typeof key !== "string" ||
      !rec ||
      rec.activationKey === null ||
      !safeEqual(rec.activationKey, key)
    )
      throw new BadRequestError("invalid atSign or ActivationKey");
    await this.activate(rec);
    const cram = this.takeSecret(atsign);
    if (cram === undefined) throw new BadRequestError("invalid atSign or ActivationKey");
    return { atsign, cram };
  }

  /** The CRAM secret of an active atSign, once: afterwards neither the database nor a file has it. */
  takeSecret(atsign: string): string | undefined {
    const secret = this.o.store.takeSecret(atsign);
    if (secret !== undefined) this.o.provisioner.forgetSecret(atsign);
    return secret;
  }

  // --- email flow (v2 and pages) ----------------------------------------------------------

  async startRegistration(emailIn: unknown, atSignIn: unknown): Promise<string> {
    const email = normalizeEmail(emailIn);
    const atsign = normalizeAtSign(atSignIn);
    const max = this.o.maxAtSignsPerEmail ?? 10;
    if (max > 0 && this.ownedBy(email).length >= max)
      throw new ForbiddenError("You already have the maximum number of free @signs");
    if (!this.o.store.reserve(atsign, { email, reservationTtlMs: this.reservationTtlMs }))
      throw new ConflictError(`${withAt(atsign)} is not available`);
    await this.sendCode(email, `register:${atsign}`, `Your code to register ${withAt(atsign)}`);
    return atsign;
  }

  async verifyRegistration(
    emailIn: unknown,
    atSignIn: unknown,
    otp: unknown,
    confirmation: boolean,
    wait = false,
  ): Promise<VerifyResult> {
    const email = normalizeEmail(emailIn);
    const atsign = normalizeAtSign(atSignIn);
    const purpose = `register:${atsign}`;
    if (!this.checkCode(email, purpose, otp)) return { kind: "retry" };
    const rec = this.o.store.get(atsign);
    if (!rec || rec.email !== email || rec.state === "deleted") return { kind: "retry" };
    const existing = this.ownedBy(email).filter((a) => a !== atsign);
    if (!confirmation && existing.length > 0 && rec.state === "reserved")
      return { kind: "confirm", atsign, existing };
    // A slow activation (503) leaves the code valid for a retry; the code is spent once the
    // secret is handed out (API) or the registration is confirmed (pages).
    await this.activate(rec, wait);
    if (!wait) {
      this.o.store.deleteOtp(email, purpose);
      return { kind: "verified", atsign };
    }
    const cramSecret = this.takeSecret(atsign);
    this.o.store.deleteOtp(email, purpose);
    if (cramSecret === undefined) return { kind: "retry" };
    return { kind: "verified", atsign, cramSecret };
  }

  async startLogin(emailIn: unknown): Promise<string> {
    const email = normalizeEmail(emailIn);
    // Sent whether or not the email owns atSigns, so the answer reveals nothing.
    await this.sendCode(email, "login", "Your sign-in code");
    return email;
  }

  verifyLogin(emailIn: unknown, otp: unknown): string | undefined {
    const email = normalizeEmail(emailIn);
    if (!this.checkCode(email, "login", otp)) return undefined;
    this.o.store.deleteOtp(email, "login");
    return this.createSession(email);
  }

  createSession(email: string): string {
    const token = randomToken();
    this.o.store.putSession(sha256(token), {
      email,
      csrf: randomToken(18),
      expiresAt: Date.now() + (this.o.sessionTtlMs ?? 24 * 3600_000),
    });
    return token;
  }

  session(token: string | undefined): Session | undefined {
    return token ? this.o.store.getSession(sha256(token)) : undefined;
  }

  endSession(token: string): void {
    this.o.store.deleteSession(sha256(token));
  }

  ownedBy(email: string): string[] {
    return this.o.store
      .list({ email })
      .filter((r) => r.state !== "deleted" && r.state !== "reserved")
      .map((r) => r.atsign);
  }

  // --- lifecycle ----------------------------------------------------------------------

  /** Looks up an atSign, optionally requiring that `email` owns it. */
  get(atSignIn: unknown, email?: string): AtSignRecord {
    const atsign = normalizeAtSign(atSignIn);
    const rec = this.o.store.get(atsign);
    if (!rec || rec.state === "deleted" || (email !== undefined && rec.email !== email))
      throw new NotFoundError(`${withAt(atsign)} not found`);
    return rec;
  }

  reset(rec: AtSignRecord): AtSignRecord {
    if (rec.state !== "active" && rec.state !== "suspended")
      throw new ConflictError(`${withAt(rec.atsign)} is ${rec.state}; only active atSigns reset`);
    const next = this.o.store.transition(rec, "resetting", { cramSecret: newCramSecret() });
    if (!next) throw new ConflictError("the atSign changed meanwhile; try again");
    void this.o.provisioner.drive(rec.atsign);
    return next;
  }

  delete(rec: AtSignRecord): void {
    if (rec.state === "deleting") return;
    const next =
      rec.state === "reserved"
        ? this.o.store.markDeleted(rec)
        : this.o.store.transition(rec, "deleting");
    if (!next) throw new ConflictError("the atSign changed meanwhile; try again");
    void this.o.provisioner.drive(rec.atsign);
  }

  suspend(rec: AtSignRecord): void {
    if (rec.state === "suspended" || rec.state === "suspending") return;
    if (rec.state !== "active") throw new ConflictError(`${withAt(rec.atsign)} is ${rec.state}`);
    if (!this.o.store.transition(rec, "suspending")) throw new ConflictError("changed meanwhile");
    void this.o.provisioner.drive(rec.atsign);
  }

  resume(rec: AtSignRecord): void {
    if (rec.state !== "suspended") throw new ConflictError(`${withAt(rec.atsign)} is ${rec.state}`);
    if (!this.o.store.transition(rec, "allocated")) throw new ConflictError("changed meanwhile");
    void this.o.provisioner.drive(rec.atsign);
  }

  move(rec: AtSignRecord, swarm: string, known: string[]): void {
    if (!known.includes(swarm)) throw new BadRequestError(`unknown swarm ${swarm}`);
    if (rec.state !== "active") throw new ConflictError(`${withAt(rec.atsign)} is ${rec.state}`);
    if (!this.o.store.transition(rec, "moving", { moveTo: swarm }))
      throw new ConflictError("changed meanwhile");
    void this.o.provisioner.drive(rec.atsign);
  }

  /** Sets (or with null clears) the atSign's memory limit and re-applies its placement. */
  async setMemoryLimit(rec: AtSignRecord, mb: number | null): Promise<void> {
    if (mb !== null && (!Number.isInteger(mb) || mb < 16 || mb > 8192))
      throw new BadRequestError("memoryLimitMb must be a whole number from 16 to 8192, or null");
    this.o.store.setMemoryLimit(rec.atsign, mb);
    await this.o.provisioner.reapply(this.o.store.get(rec.atsign)!);
  }

  /** Starts provisioning (idempotent) and, with `wait`, waits until the atSign is active. */
  private async activate(rec: AtSignRecord, wait = true): Promise<void> {
    if (rec.state === "deleted" || rec.state === "deleting")
      throw new BadRequestError("invalid atSign or ActivationKey");
    if (rec.state === "suspended" || rec.state === "suspending")
      throw new ForbiddenError(`${withAt(rec.atsign)} is suspended`);
    if (rec.state === "failed")
      throw new ConflictError(
        `${withAt(rec.atsign)} could not be provisioned (${rec.lastError ?? "unknown error"}); ` +
          "an administrator can delete it",
      );
    this.o.store.request(rec.atsign, newCramSecret());
    void this.o.provisioner.drive(rec.atsign);
    if (!wait) return;
    const done = await this.o.provisioner.waitFor(
      rec.atsign,
      (r) => r?.state === "active",
      this.o.activationWaitMs ?? 30_000,
    );
    if (done?.state !== "active")
      throw new UnavailableError(
        `${withAt(rec.atsign)} is still being provisioned (${done?.state}` +
          `${done?.lastError ? `: ${done.lastError}` : ""}); retry shortly`,
      );
  }

  private async sendCode(email: string, purpose: string, subject: string): Promise<void> {
    const now = Date.now();
    const recent = (this.sendTimes.get(email) ?? []).filter((t) => now - t < 10 * 60_000);
    if (recent.length >= 5) throw new TooManyRequestsError();
    recent.push(now);
    this.sendTimes.set(email, recent);
    const code = oneTimeCode();
    const ttl = this.o.otpTtlMs ?? 10 * 60_000;
    this.o.store.putOtp(email, purpose, sha256(`${purpose}:${code}`), now + ttl);
    await this.o.mailer.send({
      to: email,
      subject,
      text: `Your one-time code is ${code}. It expires in ${Math.round(ttl / 60_000)} minutes.`,
    });
    log.info({ email: maskEmail(email), purpose }, "one-time code issued");
  }

  private checkCode(email: string, purpose: string, otp: unknown): boolean {
    if (typeof otp !== "string" && typeof otp !== "number") return false;
    const code = String(otp).trim();
    if (!/^\d{6}$/.test(code)) return false;
    const stored = this.o.store.takeOtpAttempt(email, purpose, OTP_ATTEMPTS);
    return stored !== undefined && safeEqual(stored.codeHash, sha256(`${purpose}:${code}`));
  }
}
