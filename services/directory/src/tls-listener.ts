// The TLS adapter: accepts sockets, hands each to the protocol core, and keeps the
// certificate fresh. Handshake failures (load-balancer and kubelet probes that connect
// and close before TLS, port scanners) are logged at debug, never as errors.
import { createServer, type Server, type TLSSocket } from "node:tls";
import { watchFile, unwatchFile } from "node:fs";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "./logger";
import type { DirectoryMetrics } from "./metrics";
import { ConfigError } from "./errors";
import { earliestNotAfter } from "./cert-expiry";
import { pemFiles, readPemList } from "./pem";

export interface TlsListenerOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  handshakeTimeoutMs: number;
  /** Hard bound on sockets, handshakes included (the session cap evicts below this). */
  maxSockets: number;
  watchIntervalMs: number;
  log: Logger;
  metrics: DirectoryMetrics;
  onConnection(socket: TLSSocket): void;
}

export class TlsListener {
  private server?: Server;
  /** Every TCP connection, handshakes included, so stop() can end them all. */
  private readonly sockets = new Set<Socket>();
  /** notAfter of the pair last read; published only once the server accepted the pair. */
  private pendingNotAfter?: number;

  constructor(private readonly opts: TlsListenerOptions) {}

  async listen(): Promise<number> {
    const { opts } = this;
    const server = createServer({
      ...this.readPair(),
      minVersion: "TLSv1.2",
      handshakeTimeout: opts.handshakeTimeoutMs,
    });
    this.server = server;
    opts.metrics.certificateNotAfter = this.pendingNotAfter;
    server.maxConnections = opts.maxSockets;
    server.on("connection", (raw: Socket) => {
      this.sockets.add(raw);
      raw.once("close", () => this.sockets.delete(raw));
    });
    server.on("secureConnection", (socket) => {
      socket.setNoDelay(true);
      opts.onConnection(socket);
    });
    server.on("tlsClientError", (err, socket) => {
      opts.metrics.connections.inc({ event: "handshake_failed" });
      opts.log.debug({ err: err.message, ip: socket.remoteAddress }, "TLS handshake failed");
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => opts.log.error({ err }, "TLS listener error"));
    for (const file of [...pemFiles(opts.cert), ...pemFiles(opts.key)]) {
      watchFile(file, { interval: opts.watchIntervalMs, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) this.reloadCertificate();
      });
    }
    return (server.address() as AddressInfo).port;
  }

  /** Loads the certificate files again; new handshakes use them, open sessions keep theirs. */
  reloadCertificate(): boolean {
    const { opts } = this;
    try {
      this.server?.setSecureContext({ ...this.readPair(), minVersion: "TLSv1.2" });
      opts.metrics.certificateNotAfter = this.pendingNotAfter;
      opts.metrics.reloads.inc({ kind: "certificate", result: "ok" });
      opts.log.info("certificate reloaded");
      return true;
    } catch (err) {
      // A half-written pair (new cert, old key) fails here; the next change retries.
      opts.metrics.reloads.inc({ kind: "certificate", result: "error" });
      opts.log.warn({ err: (err as Error).message }, "certificate reload failed; keeping the old");
      return false;
    }
  }

  /**
   * The certificate chain(s) and key(s). Several comma-separated files make several
   * pairs (in the same order), e.g. ECDSA first and RSA for clients without ECDSA:
   * OpenSSL picks per handshake from what the client supports.
   */
  private readPair(): { cert: string | string[]; key: string | string[] } {
    const cert = readPemList(this.opts.cert, "--cert");
    const key = readPemList(this.opts.key, "--key");
    if (cert.length !== key.length) {
      throw new ConfigError(`--cert lists ${cert.length} file(s) but --key lists ${key.length}`);
    }
    this.pendingNotAfter = earliestNotAfter(cert);
    return cert.length === 1 ? { cert: cert[0]!, key: key[0]! } : { cert, key };
  }

  /** Stops accepting; open connections are left to the caller. */
  async close(): Promise<void> {
    for (const file of [...pemFiles(this.opts.cert), ...pemFiles(this.opts.key)]) {
      unwatchFile(file);
    }
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Ends every connection still open, including ones still in their TLS handshake. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
