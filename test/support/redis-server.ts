// Real redis-server processes for tests: started on free ports in temp dirs, stopped
// (and their files removed) by the test. Never touches the machine's own Redis.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports";

export interface RedisOptions {
  password?: string;
  /** Start as a replica of this server (or of whatever listens on this port: a proxy). */
  replicaOf?: Pick<TestRedis, "port">;
  /** Use this port (for restarting a killed server on the same address). */
  port?: number;
  /** Reuse this data directory (for restarting with the same RDB file). */
  dir?: string;
}

export class TestRedis {
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly options: RedisOptions,
    private proc: ChildProcess,
  ) {}

  get url(): string {
    const auth = this.options.password ? `:${encodeURIComponent(this.options.password)}@` : "";
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  static async start(options: RedisOptions = {}): Promise<TestRedis> {
    const port = options.port ?? (await freePort());
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "atp-redis-"));
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--logfile",
      "",
      "--loglevel",
      "warning",
      // Replicas sync at once instead of after Redis's default 5 s batching delay.
      "--repl-diskless-sync-delay",
      "0",
    ];
    if (options.password) {
      // A throwaway test password; masterauth lets replicas of a protected primary sync.
      args.push("--requirepass", options.password, "--masterauth", options.password);
    }
    if (options.replicaOf) args.push("--replicaof", "127.0.0.1", String(options.replicaOf.port));
    const proc = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    const server = new TestRedis(port, dir, options, proc);
    await server.waitUntilReady();
    return server;
  }

  /** A new ioredis client for this server (the caller quits it). */
  client(): Redis {
    return new Redis({
      host: "127.0.0.1",
      port: this.port,
      password: this.options.password,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
  }

  /** Runs one command on a short-lived connection. */
  async command(name: string, ...args: string[]): Promise<unknown> {
    const c = this.client();
    c.on("error", () => undefined); // connection failures surface through the awaited call
    try {
      await c.connect();
      return await c.call(name, ...args);
    } finally {
      c.disconnect();
    }
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null)
        throw new Error(`redis-server exited with ${this.proc.exitCode}`);
      try {
        const reply = await this.command("PING");
        if (reply === "PONG") return;
      } catch (err) {
        lastErr = err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${this.port} not ready: ${String(lastErr)}`);
  }

  /** Waits until this replica reports its link to the primary as up. */
  async waitForReplication(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const info = String(await this.command("INFO", "replication"));
      if (info.includes("master_link_status:up")) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("replica did not sync");
  }

  /** SIGKILL, as a crash would. The data directory is kept for a restart. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Starts a new process on the same port and directory. */
  async restart(): Promise<TestRedis> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) await this.kill();
    return TestRedis.start({ ...this.options, port: this.port, dir: this.dir });
  }

  async stop(): Promise<void> {
    await this.signal("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.proc.kill(sig);
    await exited;
  }
}
