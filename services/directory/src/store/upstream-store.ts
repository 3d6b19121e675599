// Upstream mode: atSigns the local store does not know are asked of another root over
// TLS, the way an official client does (greeting, `atsign\n`, `host:port\r\n@`). A few
// persistent connections ("lanes") each carry one lookup at a time - never pipelined,
// because the reference root answers pipelined lines wrongly - and waiting lookups queue
// (bounded) for the next free lane. After a `null` answer a lane's connection is
// replaced, so the upstream's per-connection anti-enumeration counter never reaches its
// delay. Any failure is StoreUnavailableError: the client is closed, not told null.
import { connect, type TLSSocket } from "node:tls";
import { isIP } from "node:net";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";
import type { DirectoryMetrics } from "../metrics";
import { isHostPort } from "../records";
import type { DirectoryStore } from "./types";

export interface UpstreamOptions {
  /** host:port of the upstream root. */
  address: string;
  /** CA PEM for the upstream's certificate (default: Node's public roots). */
  ca?: string;
  timeoutMs: number;
  /** Concurrent upstream connections (default 4). */
  connections?: number;
  /** Lookups allowed to wait for a free connection; beyond it they fail (default 1000). */
  maxQueue?: number;
  log: Logger;
  metrics?: DirectoryMetrics;
}

interface Lane {
  conn?: UpstreamConnection;
  busy: boolean;
}

interface Job {
  atsign: string;
  resolve(value: string | null): void;
  reject(err: unknown): void;
}

class UpstreamConnection {
  private buffer = "";
  private closed = false;
  private waiter?: () => void;

  private constructor(private readonly socket: TLSSocket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buffer += d;
      this.waiter?.();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  static async open(host: string, port: number, ca: string | undefined, timeoutMs: number) {
    const socket = connect({ host, port, ca, servername: isIP(host) ? undefined : host });
    const conn = new UpstreamConnection(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
      socket.setTimeout(timeoutMs, () => reject(new Error("connect timeout")));
    }).catch((err: Error) => {
      socket.destroy();
      throw err;
    });
    await conn.until(() => conn.buffer === "@", timeoutMs);
    conn.buffer = "";
    return conn;
  }

  /** Sends one lookup and returns the answer line (without CRLF and prompt). */
  async ask(atsign: string, timeoutMs: number): Promise<string> {
    this.socket.write(`${atsign}\n`);
    await this.until(() => /\n@$/.test(this.buffer), timeoutMs);
    const answer = this.buffer.slice(0, this.buffer.indexOf("\n")).replace(/\r$/, "");
    this.buffer = "";
    return answer;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private until(done: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error("answer timeout")), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.waiter = () => {
        if (done()) finish();
        else if (this.closed) finish(new Error("upstream closed the connection"));
      };
      this.waiter();
    });
  }
}

export class UpstreamStore implements DirectoryStore {
  private readonly host: string;
  private readonly port: number;
  private readonly lanes: Lane[];
  private readonly queue: Job[] = [];
  private readonly maxQueue: number;
  private healthy = true;
  private closed = false;

  constructor(private readonly opts: UpstreamOptions) {
    const i = opts.address.lastIndexOf(":");
    this.host = opts.address.slice(0, i);
    this.port = Number(opts.address.slice(i + 1));
    this.lanes = Array.from({ length: Math.max(1, opts.connections ?? 4) }, () => ({
      busy: false,
    }));
    this.maxQueue = opts.maxQueue ?? 1000;
  }

  lookup(atsign: string): Promise<string | null> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("upstream store closed"));
    if (this.queue.length >= this.maxQueue) {
      this.opts.metrics?.storeErrors.inc({ source: "upstream_queue_full" });
      return Promise.reject(
        new StoreUnavailableError(
          `upstream ${this.opts.address}: ${this.maxQueue} lookups waiting`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ atsign, resolve, reject });
      this.pump();
    });
  }

  /** Hands waiting lookups to free lanes, oldest first. */
  private pump(): void {
    for (const lane of this.lanes) {
      if (lane.busy) continue;
      const job = this.queue.shift();
      if (!job) return;
      lane.busy = true;
      this.ask(lane, job.atsign)
        .then(job.resolve, job.reject)
        .finally(() => {
          lane.busy = false;
          this.pump();
        });
    }
  }

  private async ask(lane: Lane, atsign: string): Promise<string | null> {
    const { opts } = this;
    let conn = lane.conn;
    try {
      if (!conn?.isOpen) {
        conn = await UpstreamConnection.open(this.host, this.port, opts.ca, opts.timeoutMs);
        lane.conn = conn;
      }
      const answer = await conn.ask(atsign, opts.timeoutMs);
      this.healthy = true;
      if (answer === "null" || answer === "" || answer === "data:null") {
        conn.close();
        lane.conn = undefined;
        return null;
      }
      if (!isHostPort(answer)) throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
      return answer;
    } catch (err) {
      conn?.close();
      lane.conn = undefined;
      this.healthy = false;
      opts.log.warn({ err: (err as Error).message, upstream: opts.address }, "upstream failed");
      throw new StoreUnavailableError(`upstream ${opts.address}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  ready(): boolean {
    return this.healthy;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.reject(new StoreUnavailableError("upstream store closed"));
    }
    for (const lane of this.lanes) {
      lane.conn?.close();
      lane.conn = undefined;
    }
  }
}
