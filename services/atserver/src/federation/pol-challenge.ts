// The pol challenge a peer signs (Part B §5.3), bound to the verifier as the current
// reference does: `pol1.` + base64url(JSON {"v": "<verifier atSign>", "n": "<uuid>"}). The
// prover refuses to sign a bound challenge naming anyone but the atSign it dialled, so a
// malicious peer cannot relay a third server's challenge to us and replay our signature
// there. Older servers issue a bare UUID; those are still signed (unbound) for
// compatibility unless `--pol-legacy-challenges false`. The token is colon- and whitespace-free: the `proof:` line is split on `:`
// and the prover signs it verbatim (trimmed).
import { randomUUID } from "node:crypto";
import { HandshakeError, isValidAtSign, normalizeAtSign } from "@atplatform/protocol/src/core";

export const BOUND_PREFIX = "pol1.";
const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const UUID_RE = new RegExp(`^${UUID}$`);
const BOUND_RE = /^pol1\.[A-Za-z0-9_-]+={0,2}$/;
const SESSION_RE = new RegExp(`^_${UUID}(@[^:@\\s]+)$`);

/** A challenge naming `verifier` (our own atSign) and a fresh nonce. */
export function boundChallenge(verifier: string): string {
  const json = JSON.stringify({ v: verifier, n: randomUUID() });
  const b64 = Buffer.from(json, "utf8").toString("base64url");
  // Padded like the reference's base64Url encoder, so both produce the same shape.
  return `${BOUND_PREFIX}${b64}${"=".repeat((4 - (b64.length % 4)) % 4)}`;
}

/**
 * The verifier a bound challenge names, or undefined for a legacy bare UUID. Anything else
 * (malformed token, no or invalid `v`) throws: we never sign what we cannot check.
 */
export function challengeVerifier(challenge: string): string | undefined {
  if (UUID_RE.test(challenge)) return undefined;
  if (!BOUND_RE.test(challenge)) throw new HandshakeError("malformed pol challenge");
  let v: unknown;
  try {
    const json = Buffer.from(challenge.slice(BOUND_PREFIX.length), "base64url").toString("utf8");
    v = (JSON.parse(json) as { v?: unknown }).v;
  } catch {
    throw new HandshakeError("malformed pol challenge");
  }
  if (typeof v !== "string" || !isValidAtSign(v)) {
    throw new HandshakeError("pol challenge names no valid verifier");
  }
  return normalizeAtSign(v);
}

/**
 * Checks a peer's `proof:<session>:<challenge>` answer to our `from:` before we sign it and
 * publish the signature as `public:<session>`: the session must be `_<uuid>@<us>` (anything
 * else would let the peer choose which of our public keys we overwrite), and a bound
 * challenge must name the server we dialled; an unbound (legacy) one only when `legacy`.
 */
export function checkProof(
  sessionKey: string,
  challenge: string,
  us: string,
  dialled: string,
  legacy = true,
): void {
  const m = SESSION_RE.exec(sessionKey);
  if (!m || m[1]!.toLowerCase() !== us.toLowerCase()) {
    throw new HandshakeError(`${dialled} sent a pol session key that is not _<uuid>${us}`);
  }
  const verifier = challengeVerifier(challenge);
  if (verifier === undefined && !legacy) {
    throw new HandshakeError(`${dialled} sent a pol challenge that does not name it`);
  }
  if (verifier !== undefined && verifier !== normalizeAtSign(dialled)) {
    throw new HandshakeError(
      `pol challenge names ${verifier} but we dialled ${dialled}: refusing to sign`,
    );
  }
}
