// Where the services' pino loggers write: JSON lines (containers, pipes, files), or, when
// the stream is a terminal, one readable line per record - pino-pretty's job without its
// dependency tree. LOG_FORMAT=json|pretty overrides the terminal check.
import { Writable } from "node:stream";
import { isatty } from "node:tty";
import { writeSync } from "node:fs";

const LEVELS: Record<number, [string, string]> = {
  10: ["TRACE", "\x1b[90m"],
  20: ["DEBUG", "\x1b[36m"],
  30: ["INFO ", "\x1b[32m"],
  40: ["WARN ", "\x1b[33m"],
  50: ["ERROR", "\x1b[31m"],
  60: ["FATAL", "\x1b[35m"],
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
/** Fields shown in the line's head (or not at all), not as key=value. */
const HEAD = new Set(["level", "time", "msg", "pid", "hostname", "name", "sub", "subsystem", "v"]);

function show(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** One pino JSON line as `12:00:01.234 INFO  name/sub: message key=value …`. */
export function prettyLine(json: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const [label, c] = LEVELS[rec.level as number] ?? [String(rec.level), ""];
  const time = new Date(typeof rec.time === "number" ? rec.time : Date.now())
    .toISOString()
    .slice(11, 23);
  const source = [rec.name, rec.sub ?? rec.subsystem].filter((x) => x !== undefined).join("/");
  const extra: string[] = [];
  let stack = "";
  for (const [k, v] of Object.entries(rec)) {
    if (HEAD.has(k)) continue;
    if (k === "err" && v && typeof v === "object" && "stack" in v) {
      stack = `\n    ${String((v as { stack: unknown }).stack).replace(/\n/g, "\n    ")}`;
      continue;
    }
    extra.push(`${k}=${show(v)}`);
  }
  const lvl = colour ? `${c}${label}${RESET}` : label;
  const tail = extra.length ? ` ${colour ? DIM : ""}${extra.join(" ")}${colour ? RESET : ""}` : "";
  const msg = rec.msg === undefined ? "" : String(rec.msg);
  return `${time} ${lvl} ${source ? `${source}: ` : ""}${msg}${tail}${stack}\n`;
}

/** Writes pino's lines to `fd` as pretty lines (synchronously, like pino.destination). */
class PrettyStream extends Writable {
  constructor(
    private readonly fd: number,
    private readonly colour: boolean,
  ) {
    super({ decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of String(chunk).split("\n")) {
      if (line !== "") writeSync(this.fd, prettyLine(line, this.colour));
    }
    cb();
  }
}

/**
 * A pretty stream for `fd` when it is a terminal (or LOG_FORMAT=pretty), else undefined:
 * the caller keeps its JSON destination.
 */
export function prettyStreamFor(
  fd: 1 | 2,
  env: NodeJS.ProcessEnv = process.env,
): Writable | undefined {
  const format = env.LOG_FORMAT;
  const pretty = format === "pretty" || (format !== "json" && isatty(fd));
  if (!pretty) return undefined;
  return new PrettyStream(fd, isatty(fd) && env.NO_COLOR === undefined);
}
