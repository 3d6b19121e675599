// atServer density on real containers: N idle atServer containers (the image built from
// services/atserver/Dockerfile, each under the production 50 MB limit, on our own dockerd:
// test/support/docker) beside N bare `node` atServer processes (the same bundle) in the same
// run. Per instance: start (`docker run` / spawn) until the first answer (`from:` over TLS),
// and private memory (Private_Clean + Private_Dirty of the server process) once all are idle;
// for containers also the memory cgroup's rss. Density = 1 GiB / private memory.
// Run (as root, docker.io installed): npx tsx bench/atserver-density-containers.ts [N=10]
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient } from "@atplatform/protocol";
import { sleep } from "../test/support/docker/exec";
import { TestSwarm } from "../test/support/docker/swarm";
import { REPO_ROOT } from "../test/support/docker/images";
import { loadImages, tempDir, tlsFiles } from "../test/swarm/harness";

const N = Number(process.argv[2] ?? 10);
const BUNDLE = join(REPO_ROOT, "services", "atserver", "dist", "atserver.js");

async function firstAnswer(host: string, port: number, ca: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no answer from ${host}:${port}`);
    try {
      const c = await AtClient.connect({ host, port, ca, atSign: "@alice", timeoutMs: 5000 });
      await c.from();
      await c.close();
      return;
    } catch {
      await sleep(10);
    }
  }
}

function cgroupRssKb(id: string): number {
  const stat = readFileSync(`/sys/fs/cgroup/memory/docker/${id}/memory.stat`, "utf8");
  return Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? 0) / 1024;
}

function privateKb(pid: number): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return kb("Private_Clean") + kb("Private_Dirty");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const swarm = await TestSwarm.start({ name: "density" });
  const procs: ChildProcess[] = [];
  const dir = tempDir("atp-density-");
  try {
    const d = swarm.leader;
    const images = await loadImages(swarm);
    const tls = await tlsFiles(dir, [d.address, "127.0.0.1"]);
    writeFileSync(join(tls.dir, "cram"), "density-bench-cram", { mode: 0o400 });
    chownSync(join(tls.dir, "cram"), 1024, 1024);

    const cStart: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const storage = join(dir, `c${i}`);
      mkdirSync(storage);
      chownSync(storage, 1024, 1024);
      const port = 7000 + i;
      const t0 = performance.now();
      const env = {
        ATSERVER_ATSIGN: "@alice",
        ATSERVER_PORT: String(port),
        ATSERVER_HOST: "0.0.0.0",
        ATSERVER_CERT: "/certs/cert.pem",
        ATSERVER_KEY: "/certs/key.pem",
        ATSERVER_STORAGE: "/atsign/storage",
        ATSERVER_CRAM_SECRET_FILE: "/certs/cram",
        ATSERVER_ROOT: "127.0.0.1:64",
      };
      const out = await d.docker([
        "run",
        "-d",
        "--read-only",
        "--network=host",
        "--memory=50m",
        "-v",
        `${tls.dir}:/certs:ro`,
        "-v",
        `${storage}:/atsign/storage`,
        ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        images.atserver,
      ]);
      ids.push(out.stdout.trim());
      await firstAnswer(d.address, port, tls.ca);
      cStart.push(performance.now() - t0);
    }

    const pStart: number[] = [];
    const pids: number[] = [];
    for (let i = 0; i < N; i++) {
      const storage = join(dir, `p${i}`);
      const port = 7500 + i;
      const t0 = performance.now();
      const p = spawn(
        process.execPath,
        [BUNDLE, "-a", "@alice", "-p", String(port), "--host", "127.0.0.1"],
        {
          stdio: "ignore",
          env: {
            ...process.env,
            ATSERVER_CERT: join(tls.dir, "cert.pem"),
            ATSERVER_KEY: join(tls.dir, "key.pem"),
            ATSERVER_STORAGE: storage,
            ATSERVER_CRAM_SECRET_FILE: join(tls.dir, "cram"),
          },
        },
      );
      procs.push(p);
      pids.push(p.pid!);
      await firstAnswer("127.0.0.1", port, tls.ca);
      pStart.push(performance.now() - t0);
    }

    await sleep(5000); // idle
    const cPids: number[] = [];
    for (const id of ids)
      cPids.push(Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim()));
    const cMem = cPids.map(privateKb);
    const cRss = ids.map(cgroupRssKb);
    const pMem = pids.map(privateKb);
    const row = (name: string, starts: number[], kb: number[], extra: string) => {
      const m = median(kb);
      return `| ${name} | ${(m / 1024).toFixed(1)} MB | ${Math.floor((1024 * 1024) / m)} | ${Math.round(median(starts))} ms (${Math.round(Math.min(...starts))}–${Math.round(Math.max(...starts))}) | ${extra} |`;
    };
    const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    console.log(`${N} idle atServers each, ${new Date().toISOString()}, load average ${load}`);
    console.log(
      "| | private memory per idle atServer (median) | per GiB | start to first answer (median, range) | |",
    );
    console.log("| --- | ---: | ---: | ---: | --- |");
    const rss = `cgroup rss ${(median(cRss) / 1024).toFixed(1)} MB (what the 50 MB limit charges, less page cache)`;
    console.log(row("container (image, --memory 50m)", cStart, cMem, rss));
    console.log(row("bare node process (same bundle)", pStart, pMem, ""));
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await swarm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
