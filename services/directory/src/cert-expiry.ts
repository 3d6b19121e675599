// notAfter of the certificate the directory serves, for
// atplatform_certificate_expiry_timestamp_seconds{cert="root",target="self"}.
import { X509Certificate } from "node:crypto";

/**
 * The earliest notAfter (epoch seconds) over the served chains' leaf certificates (several
 * pairs, e.g. ECDSA and RSA, expire on their own dates: the first to go is what matters).
 * Undefined if none parses.
 */
export function earliestNotAfter(chains: readonly string[]): number | undefined {
  let earliest: number | undefined;
  for (const pem of chains) {
    let ms: number;
    try {
      // X509Certificate reads the first certificate of a PEM bundle: the leaf.
      ms = Date.parse(new X509Certificate(pem).validTo);
    } catch {
      continue;
    }
    if (Number.isNaN(ms)) continue;
    const s = Math.floor(ms / 1000);
    if (earliest === undefined || s < earliest) earliest = s;
  }
  return earliest;
}
