// The thin TLS adapter: a tls.Server whose certificate can be swapped in place, watched
// for file changes and for the reference's `restart` trigger file in the certs directory.
import { existsSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Logger } from "./logger";

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

function fingerprint(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function readPems(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ca: files.ca ? readFileSync(files.ca) : undefined,
  };
}

export class TlsListener {
  readonly server: Server;
  private timer?: NodeJS.Timeout;
  private seen: string;
  reloads = 0;
  /** The CA bundle in force (`--ca`), or undefined for the system store. */
  ca?: Buffer;

  constructor(
    private readonly files: TlsFiles,
    private readonly log: Logger,
    onSocket: (socket: TLSSocket) => void,
  ) {
    const pems = readPems(files);
    this.ca = pems.ca;
    this.server = createServer(
      {
        ...pems,
        minVersion: "TLSv1.2",
        // Client certificates are requested, not required: only `from:` by a peer checks them.
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: 10_000,
      },
      onSocket,
    );
    this.server.on("tlsClientError", (err) =>
      this.log.debug({ err: err.message }, "TLS handshake failed"),
    );
    this.seen = this.currentFingerprint();
  }

  private currentFingerprint(): string {
    return [this.files.cert, this.files.key].map(fingerprint).join("|");
  }

  get restartFile(): string {
    return join(dirname(this.files.cert), "restart");
  }

  /** Loads the files again into the running server (new connections get the new certificate). */
  reload(): boolean {
    try {
      const pems = readPems(this.files);
      this.server.setSecureContext({ ...pems, minVersion: "TLSv1.2" });
      this.ca = pems.ca;
      this.seen = this.currentFingerprint();
      this.reloads++;
      this.log.info({ reloads: this.reloads }, "TLS certificate reloaded");
      return true;
    } catch (err) {
      // A half-written pair: keep serving the old one and try again on the next tick.
      this.log.warn({ err: (err as Error).message }, "TLS certificate reload failed");
      return false;
    }
  }

  /** Polls for changed files and the `restart` file. */
  watch(intervalMs: number): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  check(): void {
    if (existsSync(this.restartFile)) {
      if (this.reload()) {
        try {
          unlinkSync(this.restartFile);
        } catch {
          // already gone
        }
      }
      return;
    }
    if (this.currentFingerprint() !== this.seen) this.reload();
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        this.server.on("error", (err) => this.log.error({ err: err.message }, "TLS server error"));
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
