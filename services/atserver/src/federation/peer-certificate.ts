// Whether a peer's client certificate names the host the atDirectory gives for its atSign.
// Only subject alternative names count (RFC 6125 matching via Node's checkServerIdentity:
// exact names, a wildcard only in the first label, IPs against IP SANs); a
// certificate without SANs matches nothing, so the subject's CN is never used.
import { checkServerIdentity, type PeerCertificate } from "node:tls";

export function certificateNames(subjectaltname: string | undefined, host: string): boolean {
  if (!subjectaltname) return false;
  const cert = { subject: {}, subjectaltname } as unknown as PeerCertificate;
  return checkServerIdentity(host.toLowerCase(), cert) === undefined;
}
