// atDirectory benchmark: lookups/s and latency for the file store and the Redis store,
// over persistent connections and with a new TLS connection per lookup, next to a bare
// TLS responder serving a Map (the ceiling for one Node process) and redis-benchmark GET
// against the same Redis - all in the same run, with ECDSA P-256 and RSA-2048 certificates.
//
// Servers and the load generator are separate processes. Every server is started first
// and stays up; the phases are then run in interleaved rounds (each round visits every
// server once) and medians over rounds are reported, so that a burst of load from
// something else on the machine hits all servers alike. Bounded: under 60 s by default.
//
//   npx tsx bench/directory-throughput.ts [--rounds 3] [--seconds 0.8] [--keys ecdsa-p256,rsa-2048]
//     [--targets bare,file,redis,redis-nocache] [--modes persistent,new] [--half-rate yes|no]
//     [--half-seconds 2] [--pin yes|no]
// --pin yes: every server runs on CPU 0; this orchestrator, the load generator, Redis and
// redis-benchmark on CPU 1 (taskset). Off by default: on the 2-core development machine
// it made the tails worse (client and Redis then queue behind each other on one core).
// Diagnostics: BENCH_PROF=<dir> writes a V8 CPU profile of every server process there;
// BENCH_TTL=<ms> sets the Redis cache TTL of the servers (default: the directory's).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { promisify } from "node:util";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type KeyType,
} from "@atplatform/protocol";
import { DEFAULT_SENTINEL_KEY } from "@atplatform/directory";
import { TestRedis } from "../test/support/redis-server";

type Mode = "persistent" | "new";
type Target = "bare" | "file" | "redis" | "redis-nocache";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const ROUNDS = Number(arg("rounds", "3"));
const SECONDS = Number(arg("seconds", "0.8"));
const WARMUP = 0.25;
const KEYS = arg("keys", "ecdsa-p256,rsa-2048").split(",") as KeyType[];
const TARGETS = arg("targets", "bare,file,redis,redis-nocache").split(",") as Target[];
const MODES = arg("modes", "persistent,new").split(",") as Mode[];
const HALF = arg("half-rate", "yes") === "yes";
const HALF_SECONDS = Number(arg("half-seconds", "2"));
const PIN = arg("pin", "no") === "yes";
const RECORDS = 10_000;
const CONCURRENCY: Record<Mode, number> = { persistent: 16, new: 16 };
const PASSWORD = "bench-only-password";
const TSX = ["--import", "tsx"];

interface LoadResult {
  count: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  cpu: number;
  clientCpu: number;
}

interface Server {
  keyType: KeyType;
  target: Target;
  ca: string;
  proc: ChildProcess;
  port: number;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

async function startServer(
  keyType: KeyType,
  target: Target,
  files: { cert: string; key: string; ca: string },
  records: string,
  redis: TestRedis,
): Promise<Server> {
  const node = [
    process.execPath,
    ...(process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
    ...TSX,
    join(__dirname, "directory-server.ts"),
    target,
    files.cert,
    files.key,
    records,
    `redis://127.0.0.1:${redis.port}`,
  ];
  const [cmd, ...argv] = PIN ? ["taskset", "-c", "0", ...node] : node;
  const proc = spawn(cmd!, argv, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ATDIRECTORY_REDIS_PASSWORD: PASSWORD },
  });
  const port = await new Promise<number>((res, rej) => {
    createInterface({ input: proc.stdout! }).on("line", (l) => {
      const m = /^READY (\d+)$/.exec(l);
      if (m) res(Number(m[1]));
    });
    proc.once("exit", (c) => rej(new Error(`server exited ${c}`)));
  });
  return { keyType, target, ca: files.ca, proc, port };
}

/** The load generator: one long-lived process, one phase per stdin line. */
class LoadGenerator {
  private readonly proc: ChildProcess;
  private readonly lines: Interface;
  private onLine?: (line: string) => void;

  constructor() {
    this.proc = spawn(process.execPath, [...TSX, join(__dirname, "directory-load.ts")], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.lines = createInterface({ input: this.proc.stdout! });
    this.lines.on("line", (l) => this.onLine?.(l));
  }

  async run(
    server: Server,
    mode: Mode | "warm",
    seconds: number,
    rate?: number,
  ): Promise<LoadResult> {
    const pid = this.proc.pid!;
    const cpu = { server: 0, client: 0 };
    const done = new Promise<LoadResult>((resolve) => {
      this.onLine = (line) => {
        if (line === "START" || line === "STOP") {
          const sign = line === "START" ? -1 : 1;
          cpu.server += sign * cpuTicks(server.proc.pid!);
          cpu.client += sign * cpuTicks(pid);
        } else if (line.startsWith("{")) {
          const r = JSON.parse(line) as LoadResult;
          r.cpu = cpu.server / 100 / seconds; // 1.0 = one core busy
          r.clientCpu = cpu.client / 100 / seconds;
          resolve(r);
        }
      };
    });
    this.proc.stdin!.write(
      JSON.stringify({
        port: server.port,
        ca: server.ca,
        mode,
        concurrency: mode === "warm" ? 16 : CONCURRENCY[mode],
        seconds,
        warmupSeconds: WARMUP,
        records: RECORDS,
        rate,
      }) + "\n",
    );
    return done;
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    await new Promise((r) => this.proc.once("exit", r));
  }
}

async function redisBenchmark(redis: TestRedis): Promise<string> {
  const { stdout } = await promisify(execFile)("redis-benchmark", [
    "-h",
    "127.0.0.1",
    "-p",
    String(redis.port),
    "-a",
    PASSWORD,
    "-t",
    "get",
    "-n",
    "100000",
    "-c",
    "16",
    "-q",
  ]);
  return stdout.trim().split("\r").pop()!.trim();
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const usPerLookup = (r: LoadResult) => (r.cpu * 1e6) / r.rps;

function summarise(rs: LoadResult[]) {
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    cpu: median(rs.map((r) => r.cpu)),
    us: median(rs.map(usPerLookup)),
    clientCpu: median(rs.map((r) => r.clientCpu)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    spread: `${fmt(Math.min(...rs.map((r) => r.rps)), 0)}–${fmt(Math.max(...rs.map((r) => r.rps)), 0)}`,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  // Children inherit the affinity: Redis, the load generator and redis-benchmark go to CPU 1.
  if (PIN) await promisify(execFile)("taskset", ["-p", "-c", "1", String(process.pid)]);
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), "atp-bench-dir-"));
  const records = join(dir, "records.txt");
  const address = (i: number) => `host${i}.bench.test:${1024 + (i % 60000)}`;
  writeFileSync(
    records,
    Array.from({ length: RECORDS }, (_, i) => `user${i} ${address(i)}\n`).join(""),
  );
  const redis = await TestRedis.start({ password: PASSWORD });
  const servers: Server[] = [];
  const gen = new LoadGenerator();
  try {
    const c = redis.client();
    await c.connect();
    const p = c.pipeline();
    for (let i = 0; i < RECORDS; i++) p.set(`user${i}`, address(i));
    p.set(DEFAULT_SENTINEL_KEY, "1"); // the registrar's writer keeps it; see docs/directory.md
    await p.exec();
    c.disconnect();

    // The certificate type only matters for handshakes: the second key type is measured
    // with new connections, against the bare responder and the file store.
    for (const keyType of KEYS) {
      const ca = await createCertificateAuthority({ keyType });
      const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"], keyType });
      const files = {
        cert: join(dir, `${keyType}.crt`),
        key: join(dir, `${keyType}.key`),
        ca: ca.cert,
      };
      writeFileSync(files.cert, leaf.cert);
      writeFileSync(files.key, leaf.key);
      const first = keyType === KEYS[0];
      const targets = TARGETS.filter((t) => first || t === "bare" || t === "file");
      servers.push(
        ...(await Promise.all(targets.map((t) => startServer(keyType, t, files, records, redis)))),
      );
    }
    const phases: { server: Server; mode: Mode }[] = [];
    for (const server of servers) {
      for (const mode of MODES) {
        if (server.keyType !== KEYS[0] && mode !== "new") continue;
        phases.push({ server, mode });
      }
    }
    // Caches start warm (every record looked up once), as in a long-running directory.
    for (const server of servers) {
      if (server.target === "redis") await gen.run(server, "warm", 0);
    }
    const results = new Map<(typeof phases)[number], LoadResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const ph of phases) {
        const r = await gen.run(ph.server, ph.mode, SECONDS);
        results.set(ph, [...(results.get(ph) ?? []), r]);
        process.stderr.write(
          `round ${round + 1} ${ph.server.keyType} ${ph.server.target} ${ph.mode}: ` +
            `${fmt(r.rps, 0)}/s p99 ${fmt(r.p99)} ms cpu ${fmt(r.cpu)}\n`,
        );
      }
    }
    const halfRows: string[] = [];
    if (HALF) {
      // Open loop at half of each server's own median maximum, also in interleaved rounds;
      // the median p99 over rounds is reported (a single window's tail is mostly noise).
      // redis-nocache is a diagnostic (every lookup a GET), not a deployment setting.
      const halfPhases = phases
        .filter((ph) => ph.server.keyType === KEYS[0] && ph.server.target !== "redis-nocache")
        .map((ph) => ({
          ...ph,
          rate: Math.max(1, Math.round(summarise(results.get(ph)!).rps / 2)),
        }));
      const half = new Map<(typeof halfPhases)[number], LoadResult[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const ph of halfPhases) {
          const r = await gen.run(ph.server, ph.mode, HALF_SECONDS, ph.rate);
          half.set(ph, [...(half.get(ph) ?? []), r]);
          process.stderr.write(
            `half round ${round + 1} ${ph.server.target} ${ph.mode} @${ph.rate}/s: p99 ${fmt(r.p99)}\n`,
          );
        }
      }
      for (const ph of halfPhases) {
        const rs = half.get(ph)!;
        const p99s = rs.map((r) => r.p99);
        halfRows.push(
          `| ${ph.server.keyType} | ${ph.server.target} | ${ph.mode} | ${ph.rate} | ` +
            `${fmt(median(rs.map((r) => r.rps)), 0)} | ${fmt(median(rs.map((r) => r.p50)))} | ` +
            `${fmt(median(p99s))} (${fmt(Math.min(...p99s))}–${fmt(Math.max(...p99s))}) | ` +
            `${fmt(median(rs.map((r) => r.cpu)))} | ${rs.reduce((a, r) => a + r.errors, 0)} |`,
        );
      }
    }
    const redisBench = await redisBenchmark(redis);
    const rows = phases.map((ph) => {
      const s = summarise(results.get(ph)!);
      const bare = phases.find(
        (x) =>
          x.server.keyType === ph.server.keyType &&
          x.mode === ph.mode &&
          x.server.target === "bare",
      );
      const b = bare ? summarise(results.get(bare)!) : undefined;
      return (
        `| ${ph.server.keyType} | ${ph.server.target} | ${ph.mode} | ${fmt(s.rps, 0)} (${s.spread}) | ` +
        `${b ? fmt((100 * s.rps) / b.rps, 0) + "%" : "-"} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.cpu)} | ` +
        `${fmt(s.us, 0)} | ${b ? fmt((100 * b.us) / s.us, 0) + "%" : "-"} | ${fmt(s.clientCpu)} | ${s.errors} |`
      );
    });
    const out = [
      `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average at start ${fmt(load0)}, ${PIN ? "servers pinned to CPU 0 and client + Redis to CPU 1" : "no CPU pinning"}, ${ROUNDS} interleaved rounds, medians shown (lookups/s range over rounds in brackets). Closed loop, ${SECONDS} s measured after ${WARMUP} s warm-up, ${CONCURRENCY.persistent} persistent connections / ${CONCURRENCY.new} concurrent new connections, ${RECORDS} records, every lookup a hit. Latency in ms from the client (new-connection latency includes TCP + TLS handshake + greeting + lookup). CPU in cores over the measured window (1.00 = one core busy); server µs/lookup = server CPU time per lookup; CPU efficiency vs bare = bare's µs/lookup ÷ this server's.`,
      "",
      "| cert | server | connections | lookups/s | vs bare | p50 ms | p99 ms | server CPU | server µs/lookup | CPU efficiency vs bare | client CPU | errors |",
      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      `Open loop (lookups started on a fixed schedule, latency counted from the scheduled time) at half of each server's own median maximum, ${HALF_SECONDS} s per window, ${ROUNDS} interleaved rounds, medians (p99 range over rounds in brackets):`,
      "",
      "| cert | server | connections | offered/s | achieved/s | p50 ms | p99 ms | server CPU | errors |",
      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...halfRows,
      "",
      `redis-benchmark against the same Redis (GET, 16 clients, 100000 requests, -q): ${redisBench}`,
      "",
      `Total run time ${fmt((Date.now() - started) / 1000, 1)} s.`,
    ].join("\n");
    process.stdout.write(out + "\n");
  } finally {
    await gen.close().catch(() => undefined);
    for (const s of servers) {
      s.proc.kill("SIGTERM");
      await new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once("exit", r)));
    }
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
