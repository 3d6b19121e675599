// One client connection over any Duplex (the TLS listener is a thin adapter): greeting,
// line framing, commands processed strictly in order, one write per response, the line
// limits (small before authentication), the input byte budget, the bounded output of pushed
// lines, and idle bookkeeping.
import type { Duplex } from "node:stream";
import { BufferLimitError, errorLine } from "@atplatform/protocol/src/core";
import type { Logger } from "../logger";
import type { Dispatcher } from "./dispatch";
import { Session } from "./session";

/** Reference limit: 10 240 000 bytes including the newline. */
export const MAX_COMMAND_BYTES = 10_240_000;
/** Stop reading while this many commands wait (besides the byte budget). */
const MAX_QUEUED = 256;
const NL = 0x0a;

/** Memory bounds of one connection (flags and defaults: config.ts). */
export interface ConnectionLimits {
  /** Longest line before the connection authenticated as the owner or a pol peer. */
  unauthMaxCommandBytes: number;
  /** Longest line on a pol connection (a peer's notifications). */
  peerMaxCommandBytes: number;
  /** Reading pauses while commands of this many bytes wait to be processed. */
  inputBudgetBytes: number;
  /** A pushed line (monitor) finding more than this unsent closes the connection. */
  maxOutputBytes: number;
}

export interface ConnectionOptions {
  /** The owner's line limit (reference: 10 240 000). */
  maxCommandBytes?: number;
  limits: ConnectionLimits;
  log: Logger;
  now(): number;
  /** Called after every command (the enrollment guard watches authentication changes). */
  afterCommand?(c: Connection): void;
}

export class Connection {
  readonly session: Session;
  /**
   * Last time the client sent something (the idle clock). Writes do not count: pushes to a
   * monitor that stopped reading must not keep it alive.
   */
  lastReadAt: number;
  readonly createdAt: number;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private queue: Array<{ line: string; bytes: number }> = [];
  /** Bytes of the commands in `queue`. */
  private queuedBytes = 0;
  private busy = false;
  private closed = false;
  private readonly closeHandlers: Array<() => void> = [];
  private readonly maxBytes: number;
  private readonly limits: ConnectionLimits;

  constructor(
    private readonly stream: Duplex,
    private readonly dispatcher: Dispatcher,
    atSign: string,
    remote: string,
    private readonly opts: ConnectionOptions,
  ) {
    this.session = new Session(atSign, remote);
    this.session.write = (text) => this.write(text);
    this.session.writable = () => this.writable();
    this.createdAt = this.lastReadAt = opts.now();
    this.maxBytes = opts.maxCommandBytes ?? MAX_COMMAND_BYTES;
    this.limits = opts.limits;
  }

  /** Sends the greeting and starts reading. */
  start(): void {
    this.stream.on("data", (chunk: Buffer) => this.onData(chunk));
    this.stream.on("end", () => this.close());
    this.stream.on("close", () => this.close());
    this.stream.on("error", (err) => {
      this.opts.log.debug({ err: err.message, session: this.session.id }, "connection error");
      this.close();
    });
    this.write("@");
  }

  onClose(fn: () => void): void {
    this.closeHandlers.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes read and not yet processed: waiting commands plus the line being received. */
  get pendingInputBytes(): number {
    return this.queuedBytes + this.partBytes;
  }

  get isMonitor(): boolean {
    return this.session.monitor !== undefined;
  }

  /** One write: the whole response goes out as a single chunk. */
  write(text: string): void {
    if (this.closed) return;
    this.stream.write(text);
  }

  /**
   * A line outside any response (a live notification to a monitor). A client that let more
   * than `maxOutputBytes` pile up is cut off at once: a monitor reconnects and replays by
   * epoch, so it loses nothing, and its unread output is freed.
   */
  push(text: string): void {
    if (this.closed) return;
    if (this.stream.writableLength + text.length > this.limits.maxOutputBytes) {
      this.opts.log.warn(
        { session: this.session.id, unsent: this.stream.writableLength },
        "client does not read its pushed lines: closed",
      );
      this.close();
      this.stream.destroy();
      return;
    }
    this.write(text);
  }

  /** Resolves once the unsent output is below the stream's high-water mark (replays wait). */
  writable(): Promise<void> {
    if (this.closed || !this.stream.writableNeedDrain) return Promise.resolve();
    return this.waitForDrain();
  }

  /** The longest line accepted in the connection's current state. */
  private lineLimit(): number {
    if (this.session.isOwner) return this.maxBytes;
    const limit = this.session.polAtSign
      ? this.limits.peerMaxCommandBytes
      : this.limits.unauthMaxCommandBytes;
    return Math.min(limit, this.maxBytes);
  }

  /** Ends the connection (after flushing what was written). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.parts = [];
    this.stream.end();
    // A peer that never reads must not keep the socket alive.
    const t = setTimeout(() => this.stream.destroy(), 2000);
    t.unref();
    for (const fn of this.closeHandlers.splice(0)) fn();
  }

  /** Idle-limit check on incoming data: a connection past its limit is closed without a reply. */
  idleCheck?: () => boolean;

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.idleCheck && !this.idleCheck()) {
      this.close();
      return;
    }
    this.lastReadAt = this.opts.now();
    // The limit of the state the connection is in now: lines pipelined behind a pending
    // `cram` are still held to the unauthenticated limit.
    const limit = this.lineLimit();
    let start = 0;
    for (let i = chunk.indexOf(NL); i >= 0; i = chunk.indexOf(NL, start)) {
      const piece = chunk.subarray(start, i);
      if (this.partBytes + piece.length + 1 > limit) return this.overflow();
      this.parts.push(piece);
      const bytes = this.partBytes + piece.length + 1;
      const line = Buffer.concat(this.parts).toString("utf8").replace(/\r+$/, "");
      this.parts = [];
      this.partBytes = 0;
      this.queue.push({ line, bytes });
      this.queuedBytes += bytes;
      start = i + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.partBytes += rest.length;
      if (this.partBytes >= limit) return this.overflow();
      // Copy: the chunk's memory may be a slice of a larger pooled buffer.
      this.parts.push(Buffer.from(rest));
    }
    if (this.queue.length >= MAX_QUEUED || this.queuedBytes >= this.limits.inputBudgetBytes)
      this.stream.pause();
    this.drain().catch((err: Error) => {
      this.opts.log.error({ err: err.message, session: this.session.id }, "connection failed");
      this.close();
    });
  }

  /** A client that does not read its answers stops being read from. */
  private waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
    });
  }

  private overflow(): void {
    const err = new BufferLimitError(
      "InboundBuffer overflow: server received request which exceeded the buffer size limit. Terminating the connection.",
    );
    this.write(
      `${errorLine(err, { authenticated: this.session.isOwner, json: this.session.jsonErrors })}\n`,
    );
    this.close();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const { line, bytes } = this.queue.shift()!;
        this.queuedBytes -= bytes;
        if (
          this.stream.isPaused() &&
          this.queue.length < MAX_QUEUED / 2 &&
          this.queuedBytes < this.limits.inputBudgetBytes / 2
        )
          this.stream.resume();
        const out = await this.dispatcher.run(this.session, line);
        if (this.closed) return;
        this.opts.afterCommand?.(this);
        if (out.raw !== undefined) this.write(out.raw);
        else if (out.line !== undefined) {
          // Monitor connections get no prompt: it would corrupt the next notification line.
          this.write(this.isMonitor ? `${out.line}\n` : `${out.line}\n${this.session.prompt}`);
        }
        if (out.close) this.close();
        else if (this.stream.writableNeedDrain) await this.waitForDrain();
      }
    } finally {
      this.busy = false;
    }
  }
}
