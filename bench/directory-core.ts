// atDirectory protocol core cost, without TLS or sockets: the same pipelined lookups fed
// through DirectorySession (file store) and through the bare responder's handler logic,
// both on in-memory streams in this process. It isolates what the directory adds per
// lookup (line framing in bytes, UTF-8 check, throttle bookkeeping, metrics, connection
// tracking) from what every TLS server pays. Medians of 5 interleaved rounds. About 10 s.
//
//   npx tsx bench/directory-core.ts
import { Duplex } from "node:stream";
import pino from "pino";
import {
  DirectoryMetrics,
  DirectorySession,
  LogLimiter,
  MemoryDirectoryStore,
} from "@atplatform/directory";
import { IpMissBudget } from "../services/directory/src/ip-budget";
import { ConnectionTracker } from "../services/directory/src/connections";

const RECORDS = 10_000;
const BATCH = 16; // lines per chunk, as a busy persistent connection would deliver them
const LOOKUPS = 200_000;

class Sink extends Duplex {
  bytes = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length;
    cb();
  }
}

const records: [string, string][] = Array.from({ length: RECORDS }, (_, i) => [
  `user${i}`,
  `host${i}.bench.test:${1024 + i}`,
]);
const chunks: Buffer[] = [];
for (let i = 0; i < LOOKUPS / BATCH; i++) {
  const lines = Array.from(
    { length: BATCH },
    () => `USER${Math.floor(Math.random() * RECORDS)}\r\n`,
  );
  chunks.push(Buffer.from(lines.join("")));
}

function runDirectory(): number {
  const store = new MemoryDirectoryStore(records);
  const tracker = new ConnectionTracker<DirectorySession>(1000);
  const metrics = new DirectoryMetrics(() => tracker.size);
  const stream = new Sink();
  const session = new DirectorySession(stream, "192.0.2.1", {
    store,
    metrics,
    log: pino({ level: "silent" }),
    ipBudget: new IpMissBudget(60, 60_000),
    throttleDelayMs: 3000,
    throttleCloseAfter: 3,
    unavailableLog: new LogLimiter(),
    onClose: (s) => tracker.remove(s),
  });
  tracker.add(session);
  session.start();
  const t0 = process.hrtime.bigint();
  for (const c of chunks) stream.emit("data", c);
  const ns = Number(process.hrtime.bigint() - t0);
  if (metrics.lookups.get({ result: "found" }) !== LOOKUPS) throw new Error("lookups lost");
  return ns / LOOKUPS;
}

function runBare(): number {
  const map = new Map(records);
  const stream = new Sink();
  let pending = "";
  let answered = 0;
  stream.on("data", (d: Buffer) => {
    pending += d.toString("utf8");
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trim().toLowerCase();
      pending = pending.slice(nl + 1);
      stream.write(`${map.get(line) ?? "null"}\r\n@`);
      answered++;
    }
  });
  const t0 = process.hrtime.bigint();
  for (const c of chunks) stream.emit("data", c);
  const ns = Number(process.hrtime.bigint() - t0);
  if (answered !== LOOKUPS) throw new Error("lookups lost");
  return ns / LOOKUPS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dir: number[] = [];
const bare: number[] = [];
runDirectory(); // JIT warm-up
runBare();
for (let r = 0; r < 5; r++) {
  dir.push(runDirectory());
  bare.push(runBare());
}
const d = median(dir);
const b = median(bare);
process.stdout.write(
  [
    `${LOOKUPS} pipelined lookups in chunks of ${BATCH}, in-memory streams, medians of 5 rounds:`,
    "",
    "| handler | ns per lookup | extra vs bare |",
    "| --- | ---: | ---: |",
    `| bare responder logic (Map, string split) | ${b.toFixed(0)} | - |`,
    `| DirectorySession + MemoryDirectoryStore | ${d.toFixed(0)} | ${(d - b).toFixed(0)} ns |`,
    "",
  ].join("\n"),
);
