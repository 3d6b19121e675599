// Starting atServers for tests: in-process (AtServer) or as real `atserver` child processes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import pino from "pino";
import { AtClient } from "@atplatform/protocol";
import { AtServer, resolveConfig, type AtServerConfig } from "@atplatform/atserver";
import { freePort } from "../support/ports";
import { testTls, type TestTls } from "../support/test-ca";

export const BIN = join(__dirname, "..", "..", "services", "atserver", "bin", "atserver.js");
export const SECRET =
  "b26455a907582760ebf35bc4847de549bc41c24b25c8b1c58d5964f7b4f8a43bc55b0e9a601c9a9657d9a8b8bbc32f88b4e38ffaf03c8710cd9a6a4a7d59c7d";

export function tempDir(prefix = "atserver-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Started {
  server: AtServer;
  port: number;
  tls: TestTls;
  dir: string;
  client(opts?: { atSign?: string }): Promise<AtClient>;
  /** A client that did CRAM. */
  owner(): Promise<AtClient>;
  stop(): Promise<void>;
}

/** An in-process AtServer for @alice on a free loopback port with its own temp storage. */
export async function startServer(
  overrides: Partial<AtServerConfig> = {},
  atSign = "@alice",
  opts: { now?: () => number } = {},
): Promise<Started> {
  const tls = await testTls();
  const dir = tempDir();
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, SECRET);
  const cfg = {
    ...resolveConfig(
      {
        atSign,
        port: "0",
        host: "127.0.0.1",
        cert: tls.files.cert,
        key: tls.files.key,
        storage: join(dir, "store"),
        cramSecretFile: secretFile,
      },
      {},
    ),
    ...overrides,
  };
  const server = AtServer.create(cfg, { logger: pino({ level: "silent" }), now: opts.now });
  await server.start();
  // Tests count commit ids; the background signing-key writes must not land among them.
  await server.settled();
  const clients: AtClient[] = [];
  const client = async (opts: { atSign?: string } = {}) => {
    const c = await AtClient.connect({
      host: "127.0.0.1",
      port: server.port,
      ca: tls.ca,
      atSign: opts.atSign ?? atSign,
      timeoutMs: 5000,
    });
    clients.push(c);
    return c;
  };
  return {
    server,
    port: server.port,
    tls,
    dir,
    client,
    async owner() {
      const c = await client();
      await c.cram(SECRET);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real `atserver` child process. */
export class AtServerProcess {
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (d: string) => this.stderr.push(d));
    this.exited = new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
  }

  static async start(opts: {
    storage: string;
    secretFile?: string;
    port?: number;
    extraArgs?: string[];
    env?: NodeJS.ProcessEnv;
    atSign?: string;
    /** Another entry script (e.g. the bundle the image runs) instead of the tsx bin. */
    entry?: string;
    /** Node flags before the script (e.g. a V8 heap cap). */
    nodeArgs?: string[];
  }): Promise<AtServerProcess> {
    const tls = await testTls();
    const port = opts.port ?? (await freePort());
    const args = [
      ...(opts.nodeArgs ?? []),
      opts.entry ?? BIN,
      "-a",
      opts.atSign ?? "@alice",
      "-p",
      String(port),
      "--host",
      "127.0.0.1",
      "--cert",
      tls.files.cert,
      "--key",
      tls.files.key,
      "--storage",
      opts.storage,
      ...(opts.secretFile ? ["--cram-secret-file", opts.secretFile] : []),
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...opts.env },
    });
    return new AtServerProcess(proc, port);
  }

  /** Polls with `info:brief` until the server answers. */
  async ready(timeoutMs = 15_000): Promise<void> {
    const tls = await testTls();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.proc.exitCode !== null)
        throw new Error(`atserver exited ${this.proc.exitCode}: ${this.stderr.join("")}`);
      try {
        const c = await AtClient.connect({
          host: "127.0.0.1",
          port: this.port,
          ca: tls.ca,
          timeoutMs: 2000,
        });
        await c.execute("info:brief");
        c.destroy();
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`atserver not ready: ${this.stderr.join("")}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** A raw TLS connection that records every chunk, for framing tests. */
export class RawConn {
  readonly chunks: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(readonly socket: TLSSocket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.chunks.push(d);
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** `localAddress` (another loopback address, e.g. 127.0.0.2) plays a second client IP. */
  static async open(port: number, ca: string, localAddress?: string): Promise<RawConn> {
    const socket = localAddress
      ? tlsConnect({ socket: netConnect({ host: "127.0.0.1", port, localAddress }), ca })
      : tlsConnect({ host: "127.0.0.1", port, ca });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    return new RawConn(socket);
  }

  get text(): string {
    return this.chunks.join("");
  }

  /** Waits until the received text satisfies `pred`. */
  async until(pred: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.text)) {
      if (this.closed) throw new Error(`closed; got ${JSON.stringify(this.text.slice(-300))}`);
      if (Date.now() > deadline)
        throw new Error(`timeout; got ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.text;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("still open");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
