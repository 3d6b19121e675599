// Reads the notAfter of the certificate a TLS endpoint presents, the way the registrar
// meets it as a client (same host, SNI and, for the Docker Engine API, client certificate).
import { connect, type PeerCertificate } from "node:tls";

/** Which certificate a target serves (the `cert` label; a fixed set). */
export type CertKind = "root" | "registrar" | "swarm_wildcard" | "docker_api";

export interface CertTarget {
  cert: CertKind;
  /** The `target` label: a configured name (root host, swarm name), never an atSign. */
  target: string;
  host: string;
  port: number;
  /** SNI; defaults to `host` unless it is an IP address. */
  servername?: string;
  /** Client certificate and key (PEM), for endpoints that require one (Engine API). */
  clientCert?: { cert: string; key: string };
}

export class CertificateReadError extends Error {
  override name = "CertificateReadError";
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/**
 * The leaf certificate's notAfter (epoch seconds). The chain is deliberately not verified:
 * this is a measurement, and an expired or mis-issued certificate is exactly what it must
 * still report. Nothing is sent after the handshake.
 */
export function readCertificateNotAfter(target: CertTarget, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: target.host,
      port: target.port,
      servername: target.servername ?? (isIp(target.host) ? undefined : target.host),
      rejectUnauthorized: false,
      cert: target.clientCert?.cert,
      key: target.clientCert?.key,
    });
    const timer = setTimeout(
      () => finish(new CertificateReadError(`no TLS handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let settled = false;
    const finish = (err: Error | null, value?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) socket.destroy();
      else {
        // A clean close lets a TLS 1.3 server finish checking our client certificate (an
        // Engine API logs a reset handshake as an error); a peer that never closes is cut.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      if (err) reject(err);
      else resolve(value!);
    };
    socket.once("secureConnect", () => {
      const peer: PeerCertificate | undefined = socket.getPeerCertificate();
      const notAfter = peer?.valid_to ? Date.parse(peer.valid_to) : NaN;
      if (Number.isNaN(notAfter))
        return finish(new CertificateReadError("the peer presented no certificate"));
      finish(null, Math.floor(notAfter / 1000));
    });
    socket.once("error", (err) => finish(new CertificateReadError(err.message)));
    socket.once("close", () => finish(new CertificateReadError("closed before the handshake")));
  });
}
