// atDirectory benchmark: lookups/s and latency for the file store and the Redis store,
// over persistent connections and with a new TLS connection per lookup, next to a bare
// TLS responder serving a Map (the ceiling for one Node process) and redis-benchmark GET
// against the same Redis - all in the same run, with RSA-2048 and ECDSA P-256 certificates.
// Servers and load generators are separate processes. Bounded: about 50 s with defaults.
//
//   npx tsx bench/directory-throughput.ts [--seconds 2] [--keys ecdsa-p256,rsa-2048]
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type KeyType,
} from "@atplatform/protocol";
import { TestRedis } from "../test/support/redis-server";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SECONDS = Number(arg("seconds", "2"));
const WARMUP = 0.5;
const KEYS = arg("keys", "ecdsa-p256,rsa-2048").split(",") as KeyType[];
const RECORDS = 10_000;
const CONCURRENCY = { persistent: 16, new: 16 };
const PASSWORD = "bench-only-password";
const HERE = __dirname;
const TSX = ["--import", "tsx"];

type Mode = "persistent" | "new";
type Target = "bare" | "file" | "redis";
interface LoadResult {
  count: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  cpu?: number;
  clientCpu?: number;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

async function startServer(
  target: Target,
  files: { cert: string; key: string },
  records: string,
  redis: TestRedis,
): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    process.execPath,
    [
      ...TSX,
      join(HERE, "directory-server.ts"),
      target,
      files.cert,
      files.key,
      records,
      `redis://127.0.0.1:${redis.port}`,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ATDIRECTORY_REDIS_PASSWORD: PASSWORD },
    },
  );
  const rl = createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((res, rej) => {
    rl.on("line", (l) => {
      const m = /^READY (\d+)$/.exec(l);
      if (m) res(Number(m[1]));
    });
    proc.once("exit", (c) => rej(new Error(`server exited ${c}`)));
  });
  return { proc, port };
}

async function load(
  serverPid: number,
  port: number,
  ca: string,
  mode: Mode,
  rate?: number,
): Promise<LoadResult> {
  const opts = {
    port,
    ca,
    mode,
    concurrency: CONCURRENCY[mode],
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    records: RECORDS,
    rate,
  };
  const proc = spawn(
    process.execPath,
    [...TSX, join(HERE, "directory-load.ts"), JSON.stringify(opts)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  // Server and client CPU over the measured window only, sampled at the markers.
  let result: LoadResult | undefined;
  const cpu = { server: 0, client: 0 };
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    if (line === "START" || line === "STOP") {
      const sign = line === "START" ? -1 : 1;
      cpu.server += sign * cpuTicks(serverPid);
      cpu.client += sign * cpuTicks(proc.pid!);
    } else if (line.startsWith("{")) {
      result = JSON.parse(line) as LoadResult;
    }
  });
  const code = await new Promise<number | null>((r) => proc.once("exit", r));
  if (code !== 0 || !result) throw new Error(`load generator exited ${code}`);
  result.cpu = cpu.server / 100 / SECONDS; // 1.0 = one core busy
  result.clientCpu = cpu.client / 100 / SECONDS;
  return result;
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atp-bench-dir-"));
  const records = join(dir, "records.txt");
  const lines: string[] = [];
  for (let i = 0; i < RECORDS; i++)
    lines.push(`user${i} host${i}.bench.test:${1024 + (i % 60000)}`);
  writeFileSync(records, lines.join("\n") + "\n");
  const redis = await TestRedis.start({ password: PASSWORD });
  const results: { keyType: KeyType; target: Target; mode: Mode; r: LoadResult }[] = [];
  const halfRows: string[] = [];
  try {
    const c = redis.client();
    await c.connect();
    const p = c.pipeline();
    for (let i = 0; i < RECORDS; i++)
      p.set(`user${i}`, `host${i}.bench.test:${1024 + (i % 60000)}`);
    await p.exec();
    c.disconnect();

    const redisBench = await redisBenchmark(redis);
    for (const keyType of KEYS) {
      const ca = await createCertificateAuthority({ keyType });
      const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"], keyType });
      const files = { cert: join(dir, `${keyType}.crt`), key: join(dir, `${keyType}.key`) };
      writeFileSync(files.cert, leaf.cert);
      writeFileSync(files.key, leaf.key);
      for (const target of ["bare", "file", "redis"] as Target[]) {
        const server = await startServer(target, files, records, redis);
        try {
          const max: Partial<Record<Mode, LoadResult>> = {};
          for (const mode of ["persistent", "new"] as Mode[]) {
            const r = await load(server.proc.pid!, server.port, ca.cert, mode);
            max[mode] = r;
            results.push({ keyType, target, mode, r });
            process.stderr.write(`${keyType} ${target} ${mode}: ${JSON.stringify(r)}\n`);
          }
          // p99 at half the maximum rate (open loop), for the first key type only.
          if (keyType === KEYS[0]) {
            for (const mode of ["persistent", "new"] as Mode[]) {
              const rate = Math.max(1, Math.round(max[mode]!.rps / 2));
              const r = await load(server.proc.pid!, server.port, ca.cert, mode, rate);
              halfRows.push(
                `| ${keyType} | ${target} | ${mode} | ${rate} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} |`,
              );
              process.stderr.write(
                `${keyType} ${target} ${mode} @${rate}/s: ${JSON.stringify(r)}\n`,
              );
            }
          }
        } finally {
          server.proc.kill("SIGTERM");
          await new Promise((r) => server.proc.once("exit", r));
        }
      }
    }
    const rows = results.map(({ keyType, target, mode, r }) => {
      const bare = results.find(
        (x) => x.keyType === keyType && x.mode === mode && x.target === "bare",
      )!.r;
      const usPer = (x: LoadResult) => ((x.cpu ?? NaN) * 1e6) / x.rps;
      return (
        `| ${keyType} | ${target} | ${mode} | ${fmt(r.rps, 0)} | ${fmt((100 * r.rps) / bare.rps, 0)}% | ` +
        `${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.cpu ?? NaN)} | ${fmt(usPer(r), 0)} | ` +
        `${fmt((100 * usPer(bare)) / usPer(r), 0)}% | ${fmt(r.clientCpu ?? NaN)} | ${r.errors} |`
      );
    });
    const out = [
      `Closed loop, ${SECONDS} s measured after ${WARMUP} s warm-up, ${CONCURRENCY.persistent} persistent connections / ${CONCURRENCY.new} concurrent new connections, ${RECORDS} records, every lookup a hit. Latency in ms (new-connection latency includes TCP + TLS handshake + greeting). Server and client CPU in cores (1.00 = one core) over the measured window; server µs/lookup = server CPU time per lookup, and efficiency vs bare = bare's µs/lookup divided by this server's (the machine has 2 cores shared by server, client and anything else running, so throughput is often client-bound while CPU per lookup is not).`,
      "",
      "| cert | server | connections | lookups/s | vs bare | p50 ms | p99 ms | server CPU | server µs/lookup | efficiency vs bare | client CPU | errors |",
      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "Open loop at half of each server's own maximum rate:",
      "",
      "| cert | server | connections | offered/s | achieved/s | p50 ms | p99 ms | errors |",
      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
      ...halfRows,
      "",
      `redis-benchmark (same Redis, GET, 16 clients, 100000 requests): ${redisBench}`,
    ].join("\n");
    process.stdout.write(out + "\n");
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
