// One client connection of the directory, on any Duplex (a TLS socket in production,
// an in-memory pair in unit tests). Lines are split on LF in bytes, queued, and answered
// strictly one after another, each answer in a single write. This file is the one place
// where outcomes (found, unknown, throttled, store unavailable) become wire bytes.
import type { Duplex } from "node:stream";
import type { Logger } from "./logger";
import type { DirectoryMetrics } from "./metrics";
import type { DirectoryStore } from "./store/types";
import type { IpMissBudget } from "./ip-budget";
import { StoreUnavailableError } from "./errors";

/** Longest accepted line, in bytes, without its CR/LF (the reference's 255-char buffer). */
export const MAX_LINE_BYTES = 255;
/** Lines buffered ahead of the one being answered before reading pauses. */
const MAX_QUEUED_LINES = 64;

export const GREETING = "@";
const PROMPT = "@";
const TOO_LONG = Symbol("line too long");
const INVALID = Symbol("invalid UTF-8");

export interface SessionContext {
  store: DirectoryStore;
  metrics: DirectoryMetrics;
  log: Logger;
  ipBudget: IpMissBudget;
  throttleDelayMs: number;
  throttleCloseAfter: number;
  /** Rate limit for the "store unavailable" warning (one line per interval). */
  unavailableLog: LogLimiter;
  onClose(session: DirectorySession): void;
}

/** Lets one log line through per interval and counts the ones held back. */
export class LogLimiter {
  private last = 0;
  private held = 0;
  constructor(private readonly intervalMs = 1000) {}
  allow(): boolean {
    const now = Date.now();
    if (now - this.last >= this.intervalMs) {
      this.last = now;
      return true;
    }
    this.held++;
    return false;
  }
  /** Lines held back since the last one let through (and resets the count). */
  suppressed(): number {
    const n = this.held;
    this.held = 0;
    return n;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const EMPTY = Buffer.alloc(0);

/**
 * Decodes one line. The lenient decoder is the fast path; only a line that came out with
 * a replacement character is decoded again strictly, to tell invalid UTF-8 (answered as
 * invalid) from a real U+FFFD.
 */
function decodeLine(buf: Buffer, start: number, end: number): string | typeof INVALID {
  const text = buf.toString("utf8", start, end);
  if (!text.includes("\uFFFD")) return text;
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    return INVALID;
  }
}
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

let lastId = 0;

export class DirectorySession {
  /** The connection's id in the logs (per process, base 36). */
  readonly id = (++lastId).toString(36);
  private pending: Buffer = EMPTY;
  private readonly queue: (string | typeof INVALID | typeof TOO_LONG)[] = [];
  /** performance.now() of the last lookup (or of the connection), for the connection cap. */
  lastActive = performance.now();
  private processing = false;
  private draining = false;
  private closed = false;
  /** Our side is finishing (@exit, drain): nothing more is read or written. */
  private ending = false;
  private misses = 0;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private drained?: () => void;

  constructor(
    private readonly stream: Duplex,
    readonly remoteIp: string,
    private readonly ctx: SessionContext,
  ) {}

  /** True while a line is being answered (not evicted by the connection cap). */
  get busy(): boolean {
    return this.processing;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  start(): void {
    this.stream.on("data", (chunk: Buffer) => this.onData(chunk));
    this.stream.on("error", (err) => {
      this.ctx.log.debug(
        { err: err.message, conn: this.id, ip: this.remoteIp },
        "client socket error",
      );
    });
    this.stream.on("close", () => this.onClosed());
    this.stream.on("end", () => this.onPeerEnd());
    this.stream.write(GREETING);
  }

  /**
   * Graceful stop: stop reading, answer what was already received, then close.
   * Resolves when the connection is closed.
   */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.draining = true;
    this.stream.pause();
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    if (!this.processing && this.queue.length === 0) this.end();
    return done;
  }

  destroy(reason: string): void {
    if (this.closed) return;
    this.ctx.metrics.connections.inc({ event: "closed", reason });
    this.ctx.log.debug({ ip: this.remoteIp, reason }, "closing connection");
    this.stream.destroy();
    this.onClosed();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.draining || this.ending) return;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(0x0a, start)) >= 0) {
      const end = nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      if (end - start > MAX_LINE_BYTES) {
        this.enqueue(TOO_LONG);
        return;
      }
      this.queue.push(decodeLine(buf, start, end));
      start = nl + 1;
    }
    // Room for a CR that may still be followed by LF.
    if (buf.length - start > MAX_LINE_BYTES + 1) {
      this.enqueue(TOO_LONG);
      return;
    }
    this.pending = start === buf.length ? EMPTY : buf.subarray(start);
    if (this.queue.length >= MAX_QUEUED_LINES) this.stream.pause();
    if (!this.processing && this.queue.length > 0) this.pump();
  }

  private enqueue(item: typeof TOO_LONG): void {
    this.queue.push(item);
    if (item === TOO_LONG) {
      // Nothing after an oversized line is read; earlier lines are still answered.
      this.pending = EMPTY;
      this.stream.pause();
      this.draining = true;
    }
    if (!this.processing) this.pump();
  }

  /**
   * Answers queued lines in order. Synchronous while answers are (file store, cache
   * hits); when one needs to wait (Redis, throttle delay, backpressure) the loop
   * continues from its promise, so order is kept either way.
   */
  private pump(): void {
    this.processing = true;
    let waiting = false;
    try {
      while (!this.closed && !this.ending && this.queue.length > 0) {
        const item = this.queue.shift()!;
        if (item === TOO_LONG) {
          this.ctx.metrics.lookups.inc({ result: "too_long" });
          this.destroy("line too long");
          return;
        }
        const result = this.answer(item);
        if (result === false) return;
        if (result !== true) {
          waiting = true;
          result.then(
            (keepGoing) => {
              this.processing = false;
              if (keepGoing) this.afterAnswer();
            },
            (err: unknown) => {
              this.processing = false;
              this.fail(err);
            },
          );
          return;
        }
        if (this.queue.length < MAX_QUEUED_LINES / 2 && !this.draining && this.stream.isPaused()) {
          this.stream.resume();
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      if (!waiting) this.processing = false;
    }
    if (!waiting && this.draining && !this.closed && this.queue.length === 0) this.end();
  }

  private afterAnswer(): void {
    if (this.closed || this.ending) return;
    if (this.queue.length < MAX_QUEUED_LINES / 2 && !this.draining && this.stream.isPaused()) {
      this.stream.resume();
    }
    if (this.queue.length > 0) this.pump();
    else if (this.draining) this.end();
  }

  private fail(err: unknown): void {
    this.ctx.log.error(
      { err, conn: this.id, ip: this.remoteIp },
      "unexpected error answering a lookup",
    );
    this.destroy("internal error");
  }

  /** Answers one line: true to go on, false when closed, a promise when it must wait. */
  private answer(line: string | typeof INVALID): boolean | Promise<boolean> {
    const started = performance.now();
    this.lastActive = started;
    if (line === INVALID) return this.unknown("invalid", started);
    const text = line.trim();
    if (text === "") return this.write(PROMPT);
    const key = text.toLowerCase();
    if (key === "@exit") {
      this.end();
      return false;
    }
    if (CONTROL.test(key)) return this.unknown("invalid", started);
    let value: string | null | Promise<string | null>;
    try {
      value = this.ctx.store.lookup(key);
    } catch (err) {
      return this.unavailable(err);
    }
    if (value !== null && typeof value === "object") {
      return value.then(
        (v) => this.respond(v, started),
        (err: unknown) => this.unavailable(err),
      );
    }
    return this.respond(value, started);
  }

  private respond(value: string | null, started: number): boolean | Promise<boolean> {
    if (this.closed) return false;
    if (value === null) return this.unknown("unknown", started);
    this.ctx.metrics.found();
    this.observe(started);
    return this.write(`${value}\r\n${PROMPT}`);
  }

  private unavailable(err: unknown): false {
    if (this.closed) return false;
    this.ctx.metrics.lookups.inc({ result: "unavailable" });
    if (!(err instanceof StoreUnavailableError)) {
      this.ctx.log.error({ err, conn: this.id, ip: this.remoteIp }, "store failed unexpectedly");
    } else if (this.ctx.unavailableLog.allow()) {
      // At most one line per second during an outage; the metric counts every lookup.
      this.ctx.log.warn(
        { err: err.message, suppressed: this.ctx.unavailableLog.suppressed() },
        "store unavailable; closing connections instead of answering",
      );
    }
    this.destroy("store unavailable");
    return false;
  }

  /** The anti-enumeration rules for an unknown answer. */
  private unknown(result: string, started: number): boolean | Promise<boolean> {
    this.misses++;
    if (!this.ctx.ipBudget.take(this.remoteIp)) {
      this.ctx.metrics.lookups.inc({ result: "throttled" });
      this.ctx.log.info(
        { conn: this.id, ip: this.remoteIp },
        "per-IP unknown-answer budget exhausted",
      );
      this.destroy("ip budget");
      return false;
    }
    this.observe(started);
    if (this.misses < 2) return this.answerNull(result);
    return this.sleep(this.ctx.throttleDelayMs).then(() => {
      if (this.closed) return false;
      if (this.misses >= this.ctx.throttleCloseAfter) {
        this.ctx.metrics.lookups.inc({ result: "throttled" });
        this.destroy("too many unknown lookups");
        return false;
      }
      return this.answerNull(result);
    });
  }

  private answerNull(result: string): boolean | Promise<boolean> {
    if (result === "unknown") this.ctx.metrics.unknown();
    else this.ctx.metrics.lookups.inc({ result });
    return this.write(`null\r\n${PROMPT}`);
  }

  private observe(started: number): void {
    this.ctx.metrics.latency.observe((performance.now() - started) / 1000);
  }

  /** One write per answer; waits for 'drain' (a slow reader) before the next answer. */
  private write(data: string): boolean | Promise<boolean> {
    if (this.closed || this.ending) return false;
    if (this.stream.write(data)) return true;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        this.wake = undefined;
        this.stream.off("drain", done);
        resolve(!this.closed);
      };
      this.wake = done;
      this.stream.once("drain", done);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    }).then(() => {
      this.wake = undefined;
    });
  }

  private onPeerEnd(): void {
    // The client half-closed: answer what it sent, then close our side.
    this.draining = true;
    if (!this.processing && this.queue.length === 0) this.end();
  }

  private end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.queue.length = 0;
    this.stream.end();
    // Do not wait for the peer's close forever.
    const t = setTimeout(() => this.stream.destroy(), 2000);
    t.unref();
    this.stream.once("close", () => clearTimeout(t));
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.wake?.();
    this.queue.length = 0;
    this.ctx.onClose(this);
    this.drained?.();
  }
}
