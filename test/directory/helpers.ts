// Shared helpers for the directory tests: a directory on a temp records file, and a
// raw TLS client that records every byte the server sends.
import { connect as netConnect } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryServer, type DirectoryConfig } from "@atplatform/directory";
import { testTls } from "../support/test-ca";

export interface TestDirectory {
  server: DirectoryServer;
  port: number;
  httpPort?: number;
  dir: string;
  records: string;
  stop(): Promise<void>;
}

export function recordsText(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([k, v]) => `${k} ${v}\n`)
    .join("");
}

/** A directory with the file store, on 127.0.0.1, quiet logs and a short throttle delay. */
export async function startDirectory(
  records: Record<string, string>,
  overrides: Partial<DirectoryConfig> = {},
): Promise<TestDirectory> {
  const tls = await testTls();
  const dir = mkdtempSync(join(tmpdir(), "atp-dir-"));
  const path = join(dir, "records.txt");
  writeFileSync(path, recordsText(records));
  const server = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpHost: "127.0.0.1",
    httpPort: -1,
    cert: tls.files.cert,
    key: tls.files.key,
    records: path,
    throttleDelayMs: 100,
    watchIntervalMs: 100,
    logLevel: "silent",
    ...overrides,
  });
  try {
    const addr = await server.start();
    return {
      server,
      port: addr.port,
      httpPort: addr.httpPort,
      dir,
      records: path,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A raw root client: every byte received is kept, in order, in `received`. */
export class RawClient {
  received = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: TLSSocket) {
    socket.on("data", (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.notify();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
  }

  /** `localAddress`: connect from another loopback address (127.0.0.2, ...), as another IP. */
  static async connect(
    port: number,
    host = "127.0.0.1",
    localAddress?: string,
  ): Promise<RawClient> {
    const tls = await testTls();
    const socket = connect({
      // A plain TCP socket first: tls.connect does not take a local address.
      socket: localAddress ? netConnect({ host, port, localAddress }) : undefined,
      host,
      port,
      ca: tls.ca,
      servername: "localhost",
    });
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    return client;
  }

  get text(): string {
    return this.received.toString("latin1");
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until at least `n` bytes have arrived (or the connection closed). */
  async waitForBytes(n: number, timeoutMs = 5000): Promise<string> {
    await this.until(() => this.received.length >= n || this.closed, timeoutMs);
    return this.text;
  }

  async waitForClose(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.closed, timeoutMs);
  }

  /** Sends a line and returns exactly the bytes of its answer (`...\r\n@`). */
  async lookup(line: string, timeoutMs = 5000): Promise<string> {
    const start = this.received.length;
    this.send(`${line}\n`);
    await this.until(
      () => this.closed || /\r\n@$/.test(this.received.subarray(start).toString("latin1")),
      timeoutMs,
    );
    return this.received.subarray(start).toString("utf8");
  }

  close(): void {
    this.socket.destroy();
  }

  private until(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out; received so far ${JSON.stringify(this.text)}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Connects, reads the greeting, and returns the client ready for lookups. */
export async function greeted(port: number, localAddress?: string): Promise<RawClient> {
  const c = await RawClient.connect(port, "127.0.0.1", localAddress);
  await c.waitForBytes(1);
  return c;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
