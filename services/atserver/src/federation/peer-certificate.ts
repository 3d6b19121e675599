// A peer's client certificate on inbound `from:`: does it chain to our trust anchors, and
// does it name the host the atDirectory gives for its atSign.
import { X509Certificate } from "node:crypto";
import { checkServerIdentity, rootCertificates, type DetailedPeerCertificate } from "node:tls";
import type { PeerCertificateInfo } from "../engine/session";

/**
 * Only subject alternative names count (RFC 6125 matching via Node's checkServerIdentity:
 * exact names, a wildcard only in the first label, IPs against IP SANs); a certificate
 * without SANs matches nothing, so the subject's CN is never used.
 */
export function certificateNames(subjectaltname: string | undefined, host: string): boolean {
  if (!subjectaltname) return false;
  const cert = { subject: {}, subjectaltname } as unknown as DetailedPeerCertificate;
  return checkServerIdentity(host.toLowerCase(), cert) === undefined;
}

/** OpenSSL's verdict when the only objection may be a missing clientAuth usage. */
export const PURPOSE_ERROR = "INVALID_PURPOSE";

/**
 * Whether the chain verifies. Certificates from public ACME CAs no longer carry the
 * clientAuth usage, yet atServers present their server certificate as the client one (as
 * the reference does), so OpenSSL's purpose objection alone is not a refusal. OpenSSL keeps
 * only its last error and INVALID_PURPOSE can hide an untrusted chain, so that case is
 * verified again here: signatures, validity and CA flags up to one of our anchors.
 */
export function peerChainTrusted(info: PeerCertificateInfo, anchorsPem?: Buffer): boolean {
  if (info.authorized) return true;
  if (info.authorizationError !== PURPOSE_ERROR || !info.chain) return false;
  return chainsToAnchor(info.chain, anchors(anchorsPem), Date.now());
}

/** At most this many certificates are walked in a presented chain. */
const MAX_DEPTH = 8;

export function chainsToAnchor(
  peer: DetailedPeerCertificate,
  anchorCerts: readonly X509Certificate[],
  now: number,
): boolean {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256) || chain.length === MAX_DEPTH) break;
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
  }
  const valid = (x: X509Certificate) =>
    Date.parse(x.validFrom) <= now && now <= Date.parse(x.validTo);
  const signedBy = (x: X509Certificate, issuer: X509Certificate) =>
    issuer.ca && x.checkIssued(issuer) && x.verify(issuer.publicKey);
  if (chain.length === 0 || chain[0]!.ca) return false;
  for (let i = 0; i < chain.length; i++) {
    const cur = chain[i]!;
    if (!valid(cur)) return false;
    if (anchorCerts.some((a) => valid(a) && signedBy(cur, a))) return true;
    const next = chain[i + 1];
    if (!next || !signedBy(cur, next)) return false;
  }
  return false;
}

let cached: { pem: Buffer | undefined; certs: X509Certificate[] } | undefined;

/** Our anchors: the configured CA bundle (`--ca`), else the system store, as the listener. */
function anchors(pem: Buffer | undefined): X509Certificate[] {
  if (cached && (cached.pem === pem || (pem && cached.pem?.equals(pem)))) return cached.certs;
  const texts = pem ? splitPem(pem.toString("utf8")) : [...rootCertificates];
  const certs: X509Certificate[] = [];
  for (const t of texts) {
    try {
      certs.push(new X509Certificate(t));
    } catch {
      // A bundle may carry text between certificates; only certificates are anchors.
    }
  }
  cached = { pem, certs };
  return certs;
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
