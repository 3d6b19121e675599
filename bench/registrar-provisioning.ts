// Registrar benchmark: time from activate-atsign to an active atServer (sequential and
// concurrent), against the baseline of starting the same atServer by hand; and JSON API
// throughput against a bare node:http server in the same run.
// Run: npx tsx bench/registrar-provisioning.ts   (about 40 s)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AtClient } from "@atplatform/protocol";
import { api, startHarness } from "../test/registrar/harness";
import { freePort } from "../test/support/ports";
import { testTls } from "../test/support/test-ca";

const ATSERVER = resolve(__dirname, "../services/atserver/bin/atserver.js");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function untilInfo(port: number, ca: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const c = await AtClient.connect({ host: "127.0.0.1", port, ca, timeoutMs: 2000 });
      await c.execute("info:brief");
      c.destroy();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Baseline: spawn one atServer by hand and wait for its first info:brief answer. */
async function bareAtServerStart(dir: string, i: number): Promise<number> {
  const tls = await testTls();
  const port = await freePort();
  const secret = join(dir, `s${i}`);
  writeFileSync(secret, "x".repeat(128), { mode: 0o600 });
  const t0 = performance.now();
  const child = spawn(process.execPath, [
    ATSERVER,
    ...["-a", `@bare${i}`, "-p", String(port), "--host", "127.0.0.1"],
    ...["--cert", tls.files.cert, "--key", tls.files.key, "--storage", join(dir, `st${i}`)],
    ...["--cram-secret-file", secret, "--root", "127.0.0.1:1"],
  ]);
  await untilInfo(port, tls.ca);
  const ms = performance.now() - t0;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  return ms;
}

async function throughput(
  url: string,
  path: string,
  key: string | null,
  seconds: number,
): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (Date.now() < end) {
        const r = await api(url, path, { key });
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        n++;
      }
    }),
  );
  return n / seconds;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atp-bench-"));
  const h = await startHarness({ activationWaitMs: 60_000 });
  try {
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) bare.push(await bareAtServerStart(dir, i));

    const seq: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const got = await api(h.url, `/api/app/v3/get-atsign?atSign=seq${i}&ActivationKey=k-seq${i}`);
      const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
      if (act.status !== 200) throw new Error(act.text);
      seq.push(performance.now() - t0);
    }

    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const got = await api(
          h.url,
          `/api/app/v3/get-atsign?atSign=par${i}&ActivationKey=k-par${i}`,
        );
        const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
        if (act.status !== 200) throw new Error(act.text);
      }),
    );
    const parallel = performance.now() - t0;

    const bareHttp = createServer((_req, res) => {
      const body = JSON.stringify({ data: { atsign: "@fixed" } });
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
      res.end(body);
    });
    await new Promise<void>((r) => bareHttp.listen(0, "127.0.0.1", () => r()));
    const bareUrl = `http://127.0.0.1:${(bareHttp.address() as { port: number }).port}`;
    // Warm both up, then interleave two rounds each and keep the better one.
    await throughput(bareUrl, "/", null, 1);
    await throughput(h.url, "/api/app/v2/get-free-atsign", undefined as never, 1);
    let baseRps = 0;
    let apiRps = 0;
    for (let round = 0; round < 2; round++) {
      baseRps = Math.max(baseRps, await throughput(bareUrl, "/", null, 2));
      apiRps = Math.max(
        apiRps,
        await throughput(h.url, "/api/app/v2/get-free-atsign", undefined as never, 2),
      );
    }
    bareHttp.close();

    const row = (name: string, v: string): void => console.log(`| ${name} | ${v} |`);
    console.log("| measurement | result |\n| --- | --- |");
    row(
      "baseline: atServer started by hand → first info:brief (median of 3)",
      `${median(bare).toFixed(0)} ms`,
    );
    row(
      "get-atsign + activate-atsign → active, one at a time (median of 5)",
      `${median(seq).toFixed(0)} ms`,
    );
    row("5 activations at once → all active (wall)", `${parallel.toFixed(0)} ms`);
    row("baseline: bare node:http JSON, 10 concurrent clients", `${baseRps.toFixed(0)} req/s`);
    row("GET /api/app/v2/get-free-atsign, 10 concurrent clients", `${apiRps.toFixed(0)} req/s`);
  } finally {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
