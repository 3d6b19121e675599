// Benchmark load generator (a separate process, so the client does not share the
// server's event loop). Prints one JSON line with the results.
//   mode "persistent": `concurrency` connections, each sending one lookup at a time
//               (closed loop) or lookups at their scheduled times, pipelined (open loop)
//   mode "new": every lookup on a new TLS connection (full handshake, greeting, lookup,
//               `@exit`), `concurrency` at a time - how most clients use the root
// Closed loop (as fast as possible) unless `rate` is given: then lookups are started
// on a fixed schedule (open loop) and latency counts from the scheduled time.
// Runs as a worker: one JSON line of options per phase on stdin, and for each phase
// "START", "STOP" (the measured window) and one JSON result line on stdout.
// Usage: tsx bench/directory-load.ts   (then write phases to stdin)
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { createInterface } from "node:readline";

interface Options {
  port: number;
  ca: string;
  mode: "persistent" | "new" | "warm";
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  records: number;
  rate?: number;
}

let opts: Options;
let secureContext: SecureContext;
// One context per CA for all connections: building it per connection (parsing the CA
// each time) would make the client, not the server, the bottleneck.
const contexts = new Map<string, SecureContext>();
let latencies: number[] = [];
let errors = 0;
let measuring = false;
let stopping = false;

const name = () => `user${Math.floor(Math.random() * opts.records)}`;

function record(startNs: bigint): void {
  if (measuring) latencies.push(Number(process.hrtime.bigint() - startNs) / 1e6);
}

/**
 * One client connection with a single data listener and a FIFO of lookups in flight
 * (the directory answers pipelined lines in order): adding and removing listeners per
 * lookup would make the client, not the server, the bottleneck.
 */
class Conn {
  private buf = "";
  private readonly pending: { resolve(answer: string): void; reject(err: Error): void }[] = [];

  private constructor(readonly socket: TLSSocket) {
    socket.on("data", (d: Buffer) => {
      this.buf += d.toString();
      let end: number;
      while (this.pending.length > 0 && (end = this.buf.indexOf("\r\n@")) >= 0) {
        const answer = this.buf.slice(0, end + 3);
        this.buf = this.buf.slice(end + 3);
        this.pending.shift()!.resolve(answer);
      }
    });
    socket.on("close", () => {
      for (const p of this.pending.splice(0)) p.reject(new Error("closed"));
    });
  }

  static open(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({
        host: "127.0.0.1",
        port: opts.port,
        secureContext,
        servername: "localhost",
      });
      s.setNoDelay(true);
      s.once("error", reject);
      s.once("data", (d: Buffer) => {
        s.off("error", reject);
        s.on("error", () => undefined);
        if (d.toString() === "@") resolve(new Conn(s));
        else reject(new Error(`bad greeting ${JSON.stringify(d.toString())}`));
      });
    });
  }

  ask(atsign: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(`${atsign}\n`);
    });
  }

  /** Sends the lines in one write (pipelined) and resolves with their answers. */
  askMany(lines: string[]): Promise<string[]> {
    const answers = lines.map(
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          this.pending.push({ resolve, reject });
          if (i === lines.length - 1) this.socket.write(lines.map((l) => `${l}\n`).join(""));
        }),
    );
    return Promise.all(answers);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function oneNewConnection(startNs: bigint): Promise<void> {
  let s: Conn | undefined;
  try {
    s = await Conn.open();
    const answer = await s.ask(name());
    if (answer.startsWith("null")) throw new Error("unexpected null");
    s.socket.end("@exit\n");
    record(startNs);
  } catch {
    errors++;
  } finally {
    s?.destroy();
  }
}

async function closedLoop(): Promise<void> {
  if (opts.mode === "new") {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (!stopping) await oneNewConnection(process.hrtime.bigint());
      }),
    );
    return;
  }
  const sockets = await Promise.all(Array.from({ length: opts.concurrency }, () => Conn.open()));
  await Promise.all(
    sockets.map(async (s) => {
      while (!stopping) {
        const t = process.hrtime.bigint();
        try {
          const a = await s.ask(name());
          if (a.startsWith("null")) throw new Error("unexpected null");
          record(t);
        } catch {
          errors++;
          return;
        }
      }
    }),
  );
  for (const s of sockets) s.destroy();
}

async function openLoop(rate: number): Promise<void> {
  const intervalNs = BigInt(Math.round(1e9 / rate));
  const t0 = process.hrtime.bigint();
  let n = 0n;
  const inflight = new Set<Promise<void>>();
  // Persistent mode: each lookup is sent at its scheduled time on the next connection in
  // turn, pipelined behind any still in flight there. Waiting for a free connection
  // instead would count the client's own queue (coordinated omission) as server latency.
  const conns: Conn[] =
    opts.mode === "persistent"
      ? await Promise.all(Array.from({ length: opts.concurrency }, () => Conn.open()))
      : [];
  const persistentLookup = async (s: Conn, scheduled: bigint) => {
    try {
      const a = await s.ask(name());
      if (a.startsWith("null")) throw new Error("unexpected null");
      record(scheduled);
    } catch {
      errors++;
    }
  };
  while (!stopping) {
    const now = process.hrtime.bigint();
    while (t0 + n * intervalNs <= now) {
      const scheduled = t0 + n * intervalNs;
      const p =
        opts.mode === "new"
          ? oneNewConnection(scheduled)
          : persistentLookup(conns[Number(n % BigInt(conns.length))]!, scheduled);
      n++;
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  for (const s of conns) s.destroy();
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Looks every record up once (pipelined), so a cache starts warm; prints a result line. */
async function warm(): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: opts.concurrency }, () => Conn.open()));
  let failures = 0;
  await Promise.all(
    sockets.map(async (s, w) => {
      for (let i = w * 32; i < opts.records; i += sockets.length * 32) {
        const batch = Array.from(
          { length: Math.min(32, opts.records - i) },
          (_, k) => `user${i + k}`,
        );
        const answers = await s.askMany(batch);
        failures += answers.filter((a) => a.startsWith("null")).length;
      }
      s.destroy();
    }),
  );
  process.stdout.write(JSON.stringify({ count: opts.records, errors: failures }) + "\n");
}

async function phase(): Promise<void> {
  if (opts.mode === "warm") return warm();
  latencies = [];
  errors = 0;
  measuring = false;
  stopping = false;
  const run = opts.rate ? openLoop(opts.rate) : closedLoop();
  // The markers let the orchestrator sample server and client CPU over the window.
  setTimeout(() => {
    measuring = true;
    process.stdout.write("START\n");
  }, opts.warmupSeconds * 1000);
  await new Promise<void>((resolve) =>
    setTimeout(
      () => {
        measuring = false;
        stopping = true;
        process.stdout.write("STOP\n");
        resolve();
      },
      (opts.warmupSeconds + opts.seconds) * 1000,
    ),
  );
  await run;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      count: latencies.length,
      rps: latencies.length / opts.seconds,
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      errors,
    }) + "\n",
  );
}

async function main(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    opts = JSON.parse(line) as Options;
    let ctx = contexts.get(opts.ca);
    if (!ctx) {
      ctx = createSecureContext({ ca: opts.ca });
      contexts.set(opts.ca, ctx);
    }
    secureContext = ctx;
    await phase();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
