// Private (anonymous) memory of an idle atServer process holding 10,000 keys, and cold
// start until the first `info:brief` answer; beside a bare Node TLS server that answers
// `@` (the floor: Node itself) measured the same way in the same run.
// Run: npx tsx bench/atserver-footprint.ts   (about 30 s)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtClient, createCertificateAuthority, issueServerCertificate } from "@atplatform/protocol";
import { KeyService } from "../services/atserver/src/data/key-service";
import { KeyStore } from "../services/atserver/src/store";

const BIN = join(__dirname, "..", "services", "atserver", "bin", "atserver.js");
const BUNDLE = join(__dirname, "..", "services", "atserver", "dist", "atserver.js");
const KEYS = 10_000;
const STARTS = 5;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** kB figures from /proc/<pid>/smaps_rollup. */
function memory(pid: number): { privateKb: number; anonKb: number; rssKb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return {
    privateKb: kb("Private_Clean") + kb("Private_Dirty"),
    anonKb: kb("Anonymous"),
    rssKb: kb("Rss"),
  };
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

async function untilAnswer(probe: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      await probe();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function stop(p: ChildProcess): Promise<void> {
  p.kill("SIGTERM");
  if (p.exitCode === null) await new Promise((r) => p.once("exit", r));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-footprint-"));
  try {
    const ca = await createCertificateAuthority({ commonName: "bench CA" });
    const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] });
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    writeFileSync(cert, leaf.cert);
    writeFileSync(key, leaf.key);

    // 10,000 keys written through the same metadata semantics the server uses.
    const storage = join(dir, "store");
    const store = KeyStore.open(storage, { synchronous: "normal" });
    const keys = new KeyService(store, "@alice", Date.now);
    for (let i = 0; i < KEYS; i++)
      keys.put(`public:key${i}.bench@alice`, `value number ${i} `.repeat(4), {});
    keys.putInternal("privatekey:signing_keypair_generated", "true");
    store.close();

    // Baseline: a bare Node TLS server that greets with `@`.
    const bare = `const t=require("node:tls"),fs=require("node:fs");t.createServer({cert:fs.readFileSync(${JSON.stringify(cert)}),key:fs.readFileSync(${JSON.stringify(key)})},s=>s.write("@")).listen(+process.argv[1],"127.0.0.1")`;
    const bareStarts: number[] = [];
    let bareMem = { privateKb: 0, anonKb: 0, rssKb: 0 };
    for (let i = 0; i < STARTS; i++) {
      const port = await freePort();
      const t0 = performance.now();
      const p = spawn(process.execPath, ["-e", bare, String(port)], { stdio: "ignore" });
      await untilAnswer(
        () =>
          new Promise<void>((resolve, reject) => {
            const s = tlsConnect({ host: "127.0.0.1", port, ca: ca.cert }, () => undefined);
            s.once("data", () => {
              s.destroy();
              resolve();
            });
            s.once("error", reject);
          }),
      );
      bareStarts.push(performance.now() - t0);
      if (i === STARTS - 1) {
        await new Promise((r) => setTimeout(r, 2000));
        bareMem = memory(p.pid!);
      }
      await stop(p);
    }

    // The same server two ways: the development bin (TypeScript through tsx) and the
    // bundle the container image runs (plain JavaScript).
    const bundle = spawnSync("npm", ["run", "bundle", "-w", "services/atserver"], {
      cwd: join(__dirname, ".."),
      encoding: "utf8",
    });
    if (bundle.status !== 0) throw new Error(`bundle failed: ${bundle.stderr}`);
    const bundled = await coldStarts(BUNDLE);
    const { starts, mem } = await coldStarts(BIN);

    async function coldStarts(entry: string) {
      const starts: number[] = [];
      let mem = { privateKb: 0, anonKb: 0, rssKb: 0 };
      for (let i = 0; i < STARTS; i++) {
        const port = await freePort();
        const t0 = performance.now();
        const p = spawn(
          process.execPath,
          [
            entry,
            "-a",
            "@alice",
            "-p",
            String(port),
            "--host",
            "127.0.0.1",
            "--cert",
            cert,
            "--key",
            key,
            "--storage",
            storage,
            "--log-level",
            "warn",
          ],
          { stdio: ["ignore", "inherit", "inherit"] },
        );
        await untilAnswer(async () => {
          const c = await AtClient.connect({
            host: "127.0.0.1",
            port,
            ca: ca.cert,
            timeoutMs: 2000,
          });
          try {
            await c.execute("info:brief");
          } finally {
            c.destroy();
          }
        });
        starts.push(performance.now() - t0);
        if (i === STARTS - 1) {
          // Idle after one authenticated-free probe; let start-up garbage be collected.
          await new Promise((r) => setTimeout(r, 3000));
          mem = memory(p.pid!);
        }
        await stop(p);
      }
      return { starts, mem };
    }

    console.log(
      `# cold start until the first answer (${STARTS} starts; first start includes tsx's cache fill)`,
    );
    console.log(
      `atserver bundle (image), until info:brief: ${bundled.starts.map((s) => s.toFixed(0)).join(", ")} ms; median ${median(bundled.starts).toFixed(0)} ms (target < 300)`,
    );
    console.log(
      `atserver bin (tsx), until info:brief answers: ${starts.map((s) => s.toFixed(0)).join(", ")} ms; median ${median(starts).toFixed(0)} ms`,
    );
    console.log(
      `bare node TLS server, until '@':    ${bareStarts.map((s) => s.toFixed(0)).join(", ")} ms; median ${median(bareStarts).toFixed(0)} ms`,
    );
    console.log(`# idle memory (/proc/<pid>/smaps_rollup)`);
    console.log(
      `atserver bundle with ${KEYS} keys: Private_Clean+Private_Dirty ${mb(bundled.mem.privateKb)}, Anonymous ${mb(bundled.mem.anonKb)}, Rss ${mb(bundled.mem.rssKb)} (target private <= 20 MB)`,
    );
    console.log(
      `atserver bin with ${KEYS} keys: Private_Clean+Private_Dirty ${mb(mem.privateKb)}, Anonymous ${mb(mem.anonKb)}, Rss ${mb(mem.rssKb)} (target private <= 20 MB)`,
    );
    console.log(
      `bare node TLS server:          Private_Clean+Private_Dirty ${mb(bareMem.privateKb)}, Anonymous ${mb(bareMem.anonKb)}, Rss ${mb(bareMem.rssKb)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
