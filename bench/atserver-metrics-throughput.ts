// Throughput and idle memory of the atServer with the metrics endpoint off and on, side by
// side in one run: two processes of the bundle the image runs (dist/atserver.js, built by
// `npm run bundle -w services/atserver`), one without and one with --metrics-port; the same
// operations alternate between them round by round (order flipped each round, so drift on a
// shared machine hits both), while the "on" one is scraped every second, as an agent would
// (more often than the 15 s the swarm agent uses: a worst case).
// Run: npm run bundle -w services/atserver && npx tsx bench/atserver-metrics-throughput.ts
//      (about 1 min; ROUNDS=<n> BENCH_SECONDS=<s>)
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtClient, createCertificateAuthority, issueServerCertificate } from "@atplatform/protocol";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECRET = "bench-secret-".padEnd(64, "x");
const BUNDLE = join(__dirname, "..", "services", "atserver", "dist", "atserver.js");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function rssAnonKb(pid: number): number {
  const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Server {
  proc: ChildProcess;
  port: number;
  metricsPort?: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-metrics-tp-"));
  const servers: Server[] = [];
  try {
    const ca = await createCertificateAuthority({ commonName: "bench CA" });
    const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] });
    writeFileSync(join(dir, "cert.pem"), leaf.cert);
    writeFileSync(join(dir, "key.pem"), leaf.key);
    writeFileSync(join(dir, "secret"), SECRET);
    const connect = (port: number) =>
      AtClient.connect({
        host: "127.0.0.1",
        port,
        ca: ca.cert,
        atSign: "@alice",
        timeoutMs: 30_000,
      });

    for (const on of [false, true]) {
      const port = await freePort();
      const metricsPort = on ? await freePort() : undefined;
      const proc = spawn(
        process.execPath,
        [
          BUNDLE,
          ...["-a", "@alice", "-p", String(port), "--host", "127.0.0.1"],
          ...["--cert", join(dir, "cert.pem"), "--key", join(dir, "key.pem")],
          ...["--storage", join(dir, on ? "on" : "off"), "--cram-secret-file", join(dir, "secret")],
          ...["--log-level", "warn"],
          ...(metricsPort ? ["--metrics-port", String(metricsPort)] : []),
        ],
        // The image's V8 caps (services/atserver/Dockerfile).
        {
          stdio: ["ignore", "inherit", "inherit"],
          env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=24 --max-semi-space-size=1" },
        },
      );
      servers.push({ proc, port, metricsPort });
      for (;;) {
        const c = await connect(port).catch(() => undefined);
        if (c) {
          // The keys llookup reads.
          await c.cram(SECRET);
          for (let i = 0; i < 100; i++) await c.execute(`update:public:k${i}.bench@alice v`);
          c.destroy();
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const on = servers[1]!;
    await fetch(`http://127.0.0.1:${on.metricsPort}/metrics`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 3000));
    const idle = servers.map((s) => rssAnonKb(s.proc.pid!));

    const cases = ["update, 1 conn", "llookup, 1 conn", "update, 10 conn", "llookup, 10 conn"];
    const rates: Record<string, [number[], number[]]> = Object.fromEntries(
      cases.map((c) => [c, [[], []]]),
    );
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const which of order) {
        const s = servers[which]!;
        const scraper =
          s.metricsPort !== undefined
            ? setInterval(
                () => void fetch(`http://127.0.0.1:${s.metricsPort}/metrics`).then((r) => r.text()),
                1000,
              )
            : undefined;
        for (const conns of [1, 10]) {
          const clients = await Promise.all(
            Array.from({ length: conns }, async () => {
              const c = await connect(s.port);
              await c.cram(SECRET);
              return c;
            }),
          );
          for (const verb of ["update", "llookup"]) {
            const deadline = Date.now() + SECONDS * 1000;
            let n = 0;
            const t0 = process.hrtime.bigint();
            await Promise.all(
              clients.map(async (c) => {
                while (Date.now() < deadline) {
                  const i = n++;
                  await c.execute(
                    verb === "update"
                      ? `update:public:k${i % 1000}.bench@alice value-${i}`
                      : `llookup:public:k${i % 100}.bench@alice`,
                  );
                }
              }),
            );
            const secs = Number(process.hrtime.bigint() - t0) / 1e9;
            rates[`${verb}, ${conns} conn`]![which]!.push(n / secs);
          }
          for (const c of clients) c.destroy();
        }
        if (scraper) clearInterval(scraper);
      }
    }
    console.log(`# ${ROUNDS} rounds of ${SECONDS} s per figure, alternating; median ops/s`);
    console.log(`${"".padEnd(20)} ${"metrics off".padStart(12)} ${"metrics on".padStart(12)}`);
    for (const c of cases) {
      const [off, onRates] = rates[c]!;
      console.log(
        `${c.padEnd(20)} ${median(off).toFixed(0).padStart(12)} ${median(onRates).toFixed(0).padStart(12)}   (off: ${off.map((x) => x.toFixed(0)).join(", ")}; on: ${onRates.map((x) => x.toFixed(0)).join(", ")})`,
      );
    }
    console.log(
      `${"idle RssAnon".padEnd(20)} ${`${idle[0]} kB`.padStart(12)} ${`${idle[1]} kB`.padStart(12)}   (3 s after start, one scrape for "on")`,
    );
    console.log(
      `${"RssAnon after load".padEnd(20)} ${`${rssAnonKb(servers[0]!.proc.pid!)} kB`.padStart(12)} ${`${rssAnonKb(on.proc.pid!)} kB`.padStart(12)}`,
    );
  } finally {
    for (const s of servers) s.proc.kill("SIGTERM");
    await Promise.all(
      servers.map((s) =>
        s.proc.exitCode === null ? new Promise((r) => s.proc.once("exit", r)) : 0,
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
