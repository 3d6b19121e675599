// What the metrics endpoint costs an idle atServer: RssAnon (/proc/<pid>/status) of the
// bundle the image runs, three ways, runs interleaved: the bundle built from the commit
// before the metrics (BASE: no metrics code at all), today's bundle with the
// endpoint off, and today's bundle with --metrics-port and one scrape.
// Run: npx tsx bench/atserver-metrics-memory.ts   (about 1 min; BASE=<commit> RUNS=<n>)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtClient, createCertificateAuthority, issueServerCertificate } from "@atplatform/protocol";

const ROOT = join(__dirname, "..");
const RUNS = Number(process.env.RUNS ?? 4);
// The last commit before the metrics.
const BASE = process.env.BASE ?? "eadebca";

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

function esbuild(entry: string, out: string): void {
  const r = spawnSync(
    "npx",
    [
      "esbuild",
      entry,
      "--bundle",
      "--platform=node",
      "--target=node20",
      "--external:better-sqlite3",
      "--external:pino",
      `--outfile=${out}`,
      "--log-level=warning",
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`esbuild failed: ${r.stderr}`);
}

/** The base commit's atserver sources under ROOT/tmp (so node_modules resolve), bundled. */
function baseBundle(): string {
  const src = join(ROOT, "tmp", `bench-base-${process.pid}`);
  mkdirSync(src, { recursive: true });
  const tar = spawnSync(
    "git",
    ["archive", BASE, "services/atserver/src", "services/atserver/package.json"],
    { cwd: ROOT },
  );
  if (tar.status !== 0) throw new Error(`git archive ${BASE} failed: ${String(tar.stderr)}`);
  spawnSync("tar", ["-x", "-C", src], { input: tar.stdout });
  const out = join(ROOT, "tmp", `bench-base-${process.pid}.js`);
  try {
    esbuild(join(src, "services/atserver/src/cli.ts"), out);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-metrics-mem-"));
  const children: ChildProcess[] = [];
  try {
    const ca = await createCertificateAuthority({ commonName: "bench CA" });
    const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] });
    writeFileSync(join(dir, "cert.pem"), leaf.cert);
    writeFileSync(join(dir, "key.pem"), leaf.key);
    const base = baseBundle();
    // Beside the sources, so that the externals (pino, better-sqlite3) resolve.
    const current = join(ROOT, "tmp", `bench-current-${process.pid}.js`);
    esbuild(join(ROOT, "services/atserver/src/cli.ts"), current);

    async function idle(entry: string, metrics: boolean, run: number): Promise<number> {
      const port = await freePort();
      const mport = metrics ? await freePort() : 0;
      const p = spawn(
        process.execPath,
        [
          entry,
          ...["-a", "@alice", "-p", String(port), "--host", "127.0.0.1"],
          ...["--cert", join(dir, "cert.pem"), "--key", join(dir, "key.pem")],
          ...["--storage", join(dir, `store-${entry.length}-${metrics}-${run}`)],
          ...["--log-level", "warn"],
          ...(metrics ? ["--metrics-port", String(mport)] : []),
        ],
        { stdio: ["ignore", "inherit", "inherit"] },
      );
      children.push(p);
      for (;;) {
        try {
          const c = await AtClient.connect({ host: "127.0.0.1", port, ca: ca.cert });
          await c.execute("info:brief");
          c.destroy();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (metrics) {
        const text = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
        if (!text.includes("atserver_info")) throw new Error("no metrics");
      }
      await new Promise((r) => setTimeout(r, 3000));
      const kb = rssAnonKb(p.pid!);
      p.kill("SIGTERM");
      await new Promise((r) => p.once("exit", r));
      return kb;
    }

    const results: Record<string, number[]> = {
      [`bundle of ${BASE} (no metrics code)`]: [],
      "bundle now, metrics off": [],
      "bundle now, --metrics-port, scraped once": [],
    };
    const rows = Object.values(results);
    for (let run = 0; run < RUNS; run++) {
      rows[0]!.push(await idle(base, false, run));
      rows[1]!.push(await idle(current, false, run));
      rows[2]!.push(await idle(current, true, run));
    }
    console.log(`# idle RssAnon after one info:brief and 3 s, ${RUNS} runs (kB), median`);
    for (const [name, xs] of Object.entries(results)) {
      console.log(`${name.padEnd(44)} ${xs.join(", ")}  median ${median(xs)} kB`);
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    for (const f of ["base", "current"])
      rmSync(join(ROOT, "tmp", `bench-${f}-${process.pid}.js`), { force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
