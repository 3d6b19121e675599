// A client for one atServer connection: TLS, greeting, from + cram/pkam, commands (one
// line each, answered in order), and monitor streams. Used by tests, the CLI, the
// registrar's health probe and atServer-to-atServer traffic.
import { EventEmitter } from "node:events";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { cramDigest, signPkam, type HashingAlgo, type SigningAlgo } from "./crypto";
import { AtError, ConnectFailedError, errorFromLine, TimeoutError } from "./errors";
import { normalizeAtSign } from "./keys";
import {
  cram as cramVerb,
  from as fromVerb,
  monitor as monitorVerb,
  pkam as pkamVerb,
} from "./verbs";

export interface AtClientOptions {
  host: string;
  port: number;
  /** Trusted CA(s), PEM. Without it the system store is used. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** TLS server name to verify (defaults to host unless host is an IP). */
  servername?: string;
  /** Client certificate chain and key (atServer-to-atServer connections). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The atSign this connection authenticates as (needed for cram/pkam). */
  atSign?: string;
  /** Per-command and connect timeout (ms). Default 10 000. */
  timeoutMs?: number;
}

/** One notification line from `monitor` (Part B §6.4), as parsed JSON. */
export interface MonitorNotification {
  id: string;
  from: string;
  to: string;
  key: string;
  value: string | null;
  operation: string;
  epochMillis: number;
  messageType: string;
  isEncrypted: boolean;
  metadata: Record<string, unknown> | null;
  [extra: string]: unknown;
}

interface Pending {
  command: string;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const PROMPT_RE = /^@(?:[^@\n\s]*@)?/u;

export class AtClient extends EventEmitter {
  /** The prompt the server currently shows (`@` or `@alice@`). */
  prompt = "@";
  private buffer = "";
  private pending: Pending[] = [];
  private closed = false;
  private monitoring = false;
  readonly atSign?: string;

  private constructor(
    private readonly socket: TLSSocket,
    private readonly opts: AtClientOptions,
  ) {
    super();
    this.atSign = opts.atSign ? normalizeAtSign(opts.atSign) : undefined;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => this.onData(d));
    socket.on("close", () => this.onClose(new ConnectFailedError("connection closed")));
    socket.on("error", (err) => this.onClose(new ConnectFailedError(err.message)));
  }

  /** Connects over TLS and waits for the server's `@` greeting. */
  static connect(opts: AtClientOptions): Promise<AtClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const isIp = /^[\d.]+$|:/.test(opts.host);
    const tlsOpts: ConnectionOptions = {
      host: opts.host,
      port: opts.port,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      servername: opts.servername ?? (isIp ? undefined : opts.host),
      minVersion: "TLSv1.2",
    };
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(tlsOpts);
      socket.setNoDelay(true);
      let greeting = "";
      const timer = setTimeout(() => fail(new TimeoutError("no greeting from server")), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err instanceof AtError ? err : new ConnectFailedError(err.message));
      };
      const onData = (d: Buffer) => {
        greeting += d.toString("utf8");
        if (!greeting.startsWith("@")) {
          fail(
            new ConnectFailedError(`unexpected greeting ${JSON.stringify(greeting.slice(0, 80))}`),
          );
          return;
        }
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("error", fail);
        socket.off("close", onEarlyClose);
        const client = new AtClient(socket, opts);
        // Anything after the greeting byte belongs to the first response.
        if (greeting.length > 1) client.onData(greeting.slice(1));
        resolve(client);
      };
      const onEarlyClose = () => fail(new ConnectFailedError("connection closed before greeting"));
      socket.on("data", onData);
      socket.once("error", fail);
      socket.once("close", onEarlyClose);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get authenticated(): boolean {
    return this.prompt !== "@";
  }

  /** Sends one command line; resolves with the response line (`data:…`, `error:…`, or a bare prompt for pol). */
  send(command: string): Promise<string> {
    if (this.closed) return Promise.reject(new ConnectFailedError("connection closed"));
    if (/[\r\n]/.test(command)) return Promise.reject(new Error("commands are single lines"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onClose(new TimeoutError(`no response to ${command.split(":")[0]} in time`));
      }, this.opts.timeoutMs ?? 10_000);
      this.pending.push({ command, resolve, reject, timer });
      this.socket.write(`${command}\n`);
    });
  }

  /** Runs a command: the payload after `data:` on success, else throws the error's class. */
  async execute(command: string): Promise<string> {
    const line = await this.send(command);
    if (line.startsWith("data:")) return line.slice("data:".length);
    if (line.startsWith("error:")) throw errorFromLine(line);
    return line;
  }

  /** `from:` → the challenge (without `data:`). */
  async from(atSign?: string): Promise<string> {
    const who = atSign ?? this.atSign;
    if (!who) throw new Error("no atSign to send in from:");
    return this.execute(fromVerb.format({ atSign: normalizeAtSign(who) }));
  }

  /** from + cram with the CRAM secret. */
  async cram(secret: string): Promise<void> {
    const challenge = await this.from();
    const reply = await this.execute(cramVerb.format({ digest: cramDigest(secret, challenge) }));
    if (!reply.startsWith("success")) throw new Error(`cram answered ${reply}`);
  }

  /** from + pkam with a private key (PEM or base64 PKCS#8). */
  async pkam(
    privateKey: string,
    opts: { signingAlgo?: SigningAlgo; hashingAlgo?: HashingAlgo; enrollmentId?: string } = {},
  ): Promise<void> {
    const challenge = await this.from();
    const signature = signPkam(privateKey, challenge, opts);
    const reply = await this.execute(pkamVerb.format({ ...opts, signature }));
    if (!reply.startsWith("success")) throw new Error(`pkam answered ${reply}`);
  }

  /**
   * Turns this connection into a monitor: emits "notification" with each parsed JSON line.
   * Other commands (e.g. `noop:0`) keep working on it.
   */
  monitor(regex?: string, epoch?: number, opts: { selfNotifications?: boolean } = {}): void {
    this.monitoring = true;
    const line = monitorVerb.format({
      selfNotifications: opts.selfNotifications,
      epoch: epoch === undefined ? undefined : String(epoch),
      regex,
    });
    this.socket.write(`${line}\n`);
  }

  /**
   * The notifications of a monitor connection as an async stream, buffered from the moment
   * this is called (ends when the connection closes). Stats notifications have id "-1".
   */
  notifications(): AsyncIterableIterator<MonitorNotification> {
    const queued: MonitorNotification[] = [];
    let wake: (() => void) | undefined;
    const onNote = (n: MonitorNotification) => {
      queued.push(n);
      wake?.();
    };
    const onClose = () => wake?.();
    this.on("notification", onNote);
    this.on("close", onClose);
    const stop = () => {
      this.off("notification", onNote);
      this.off("close", onClose);
    };
    const iterator: AsyncIterableIterator<MonitorNotification> = {
      next: async () => {
        while (queued.length === 0 && !this.closed) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
        if (queued.length > 0) return { value: queued.shift()!, done: false };
        stop();
        return { value: undefined, done: true };
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Resolves with the next notification whose JSON satisfies `match` (or rejects on timeout). */
  nextNotification(
    match: (n: MonitorNotification) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<MonitorNotification> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("notification", on);
        reject(new TimeoutError("no matching notification in time"));
      }, timeoutMs);
      const on = (n: MonitorNotification) => {
        if (!match(n)) return;
        clearTimeout(timer);
        this.off("notification", on);
        resolve(n);
      };
      this.on("notification", on);
    });
  }

  /** Sends `@exit` and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.end("@exit\n");
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000).unref();
    });
    this.onClose(new ConnectFailedError("connection closed"));
  }

  /** Destroys the socket at once (no `@exit`). */
  destroy(): void {
    this.socket.destroy();
    this.onClose(new ConnectFailedError("connection closed"));
  }

  private expectedPrompt(command: string, line: string): string {
    const verb = command.slice(0, 5).toLowerCase();
    if ((verb === "cram:" || verb === "pkam:") && line.startsWith("data:success") && this.atSign) {
      return `${this.atSign}@`;
    }
    return this.prompt;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      if (this.monitoring) {
        // The reference may put a prompt in front of the next line; notifications never have one.
        const m = /^@[^@\n\s:]*@(?=notification:|data:|error:)/u.exec(this.buffer);
        if (m) this.buffer = this.buffer.slice(m[0].length);
        if (this.buffer.startsWith("notification:")) {
          const nl = this.buffer.indexOf("\n");
          if (nl < 0) return;
          const text = this.buffer.slice("notification:".length, nl).trim();
          this.buffer = this.buffer.slice(nl + 1);
          try {
            this.emit("notification", JSON.parse(text) as MonitorNotification);
          } catch {
            this.emit("malformed", text);
          }
          continue;
        }
      }
      const head = this.pending[0];
      if (!head) return;
      if (head.command === "pol") {
        const m = /^@[^@\n\s]+@/u.exec(this.buffer);
        if (m && !this.buffer.startsWith("error:")) {
          this.buffer = this.buffer.slice(m[0].length);
          this.prompt = m[0];
          this.settle(m[0]);
          continue;
        }
      }
      const nl = this.buffer.indexOf("\n");
      if (nl < 0) return;
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      const rest = this.buffer.slice(nl + 1);
      if (this.monitoring && !rest.startsWith("@")) {
        // Monitor connections answer without a prompt.
        this.buffer = rest;
        this.settle(line);
        continue;
      }
      const expected = this.expectedPrompt(head.command, line);
      let prompt: string;
      if (rest.startsWith(expected)) prompt = expected;
      else if (expected.startsWith(rest))
        return; // the rest of the prompt is still in flight
      else {
        const m = PROMPT_RE.exec(rest);
        if (!m) return;
        prompt = m[0];
      }
      this.prompt = prompt;
      this.buffer = rest.slice(prompt.length);
      this.settle(line);
    }
  }

  private settle(line: string): void {
    const p = this.pending.shift();
    if (!p) return;
    clearTimeout(p.timer);
    p.resolve(line);
  }

  private onClose(err: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
      this.emit("close");
    }
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
