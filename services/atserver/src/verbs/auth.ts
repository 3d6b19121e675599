// from, cram, pkam, pol (Part B §3.1-3.4, §5).
import { randomUUID, timingSafeEqual } from "node:crypto";
import {
  AuthFailedError,
  BlockedConnectionError,
  cramDigest,
  EnrollmentStateError,
  InternalServerException,
  isValidAtSign,
  normalizeAtSign,
  verifyPkam,
  type CramParams,
  type FromParams,
  type PkamParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import type { VerbHandler } from "../engine/verb";
import { boundChallenge } from "../federation/pol-challenge";
import { readBlocklist } from "./config";

const CHALLENGE_TTL_MS = 60_000;
export const PKAM_PUBLIC_KEY = "privatekey:at_pkam_publickey";

/** True when clientConfig asks for JSON errors: version > 3.0.37. */
function wantsJsonErrors(clientConfig: string | undefined): boolean {
  if (!clientConfig) return false;
  try {
    const v = (JSON.parse(clientConfig) as { version?: unknown }).version;
    if (typeof v !== "string") return false;
    const [a = 0, b = 0, c = 0] = v.split(/[.+-]/).map((x) => Number(x) || 0);
    return a * 1e6 + b * 1e3 + c > 3 * 1e6 + 0 * 1e3 + 37;
  } catch {
    return false;
  }
}

export const from: VerbHandler<FromParams> = {
  access: ["U"],
  async handle(ctx, s, p) {
    if (!isValidAtSign(p.atSign)) throw new InternalServerException(`invalid atSign ${p.atSign}`);
    const who = normalizeAtSign(p.atSign);
    s.jsonErrors = wantsJsonErrors(p.clientConfig);
    const nonce = randomUUID();
    const expiresAt = ctx.now() + CHALLENGE_TTL_MS;
    if (who === ctx.atSign) {
      const text = `${s.id}${who}:${nonce}`;
      s.challenge = { atSign: who, text, nonce, expiresAt };
      return text;
    }
    if (readBlocklist(ctx).includes(who)) {
      throw new BlockedConnectionError("Unable to connect");
    }
    if (ctx.peers) await ctx.peers.checkPeerCertificate(s, who);
    const challenge = boundChallenge(ctx.atSign);
    const text = `${s.id}${who}:${challenge}`;
    s.challenge = { atSign: who, text, nonce: challenge, expiresAt };
    return `proof:${text}`;
  },
};

/**
 * A failed cram/pkam: the reference answers AT0401 and keeps the connection open for as many
 * tries as the client likes; we answer the same and close the connection at the bound.
 */
function authFailed(ctx: ServerContext, s: Session, message: string): AuthFailedError {
  s.authFailures++;
  const close = s.authFailures >= ctx.config.maxAuthFailures;
  if (close) ctx.log.verbs.warn({ session: s.id, failures: s.authFailures }, "auth failures");
  return new AuthFailedError(message, { close });
}

function takeOwnChallenge(
  ctx: Parameters<VerbHandler["handle"]>[0],
  s: Parameters<VerbHandler["handle"]>[1],
) {
  const c = s.challenge;
  s.challenge = undefined; // single use, success or not
  if (!c || c.atSign !== ctx.atSign || c.expiresAt < ctx.now()) return undefined;
  return c;
}

export const cram: VerbHandler<CramParams> = {
  access: ["U"],
  handle(ctx, s, p) {
    const c = takeOwnChallenge(ctx, s);
    const secret = ctx.keys.cramSecret();
    if (!c || secret === undefined) throw authFailed(ctx, s, "Authentication Failed");
    const expected = Buffer.from(cramDigest(secret, c.text), "utf8");
    const got = Buffer.from(p.digest.trim().toLowerCase(), "utf8");
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw authFailed(ctx, s, "Authentication Failed");
    }
    s.auth = "cram";
    s.enrollmentId = undefined;
    s.namespaces = undefined;
    ctx.facts.lastLoggedInAt = ctx.now();
    return "success";
  },
};

export const pkam: VerbHandler<PkamParams> = {
  access: ["U"],
  handle(ctx, s, p) {
    const c = takeOwnChallenge(ctx, s);
    let publicKey: string | null | undefined;
    let namespaces: Record<string, string> | undefined;
    if (p.enrollmentId !== undefined) {
      if (!ctx.enrollments) {
        throw new EnrollmentStateError(
          "AT0028",
          `enrollment_id: ${p.enrollmentId} is expired or invalid`,
        );
      }
      const rec = ctx.enrollments.forPkam(p.enrollmentId);
      publicKey = rec.apkamPublicKey;
      namespaces = rec.namespaces;
    } else {
      publicKey = ctx.keys.find(PKAM_PUBLIC_KEY)?.value;
    }
    const ok =
      c !== undefined &&
      typeof publicKey === "string" &&
      verifyPkam({
        publicKey,
        signature: p.signature,
        challenge: c.text,
        signingAlgo: p.signingAlgo,
        hashingAlgo: p.hashingAlgo,
      });
    if (!ok) throw authFailed(ctx, s, "pkam authentication failed");
    s.auth = p.enrollmentId !== undefined ? "apkam" : "pkam";
    s.enrollmentId = p.enrollmentId;
    s.namespaces = namespaces;
    ctx.facts.lastLoggedInAt = ctx.now();
    ctx.facts.lastPkamAt = ctx.now();
    return "success";
  },
};

export const pol: VerbHandler<Record<string, never>> = {
  access: ["U"],
  async handle(ctx, s) {
    const c = s.challenge;
    if (!c || c.atSign === ctx.atSign) {
      throw new InternalServerException("pol without a from: of another atSign", { close: true });
    }
    if (!ctx.peers || c.expiresAt < ctx.now()) {
      s.challenge = undefined;
      throw new AuthFailedError("Pol Authentication Failed");
    }
    try {
      await ctx.peers.verifyPol(s);
    } catch {
      throw new AuthFailedError("Pol Authentication Failed");
    } finally {
      s.challenge = undefined; // single use, success or not
    }
    s.polAtSign = c.atSign;
    ctx.usage.atSigns.add(c.atSign);
    return { raw: `${c.atSign}@` };
  },
};
