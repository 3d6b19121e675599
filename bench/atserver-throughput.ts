// update and llookup operations per second against a real `atserver` process over TLS,
// with 1 and with 10 authenticated connections, beside the same operations straight
// against the storage layer (KeyService over KeyStore, same durability) in this process.
// Run: npx tsx bench/atserver-throughput.ts   (about 40 s)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtClient, createCertificateAuthority, issueServerCertificate } from "@atplatform/protocol";
import { KeyService } from "../services/atserver/src/data/key-service";
import { KeyStore } from "../services/atserver/src/store";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SECRET = "bench-secret-".padEnd(64, "x");
const BIN = join(__dirname, "..", "services", "atserver", "bin", "atserver.js");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function timed(
  label: string,
  conns: number,
  op: (i: number, c: number) => Promise<void>,
): Promise<number> {
  const deadline = Date.now() + SECONDS * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      while (Date.now() < deadline) await op(n++, c);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = n / secs;
  console.log(
    `${label.padEnd(44)} ${rate.toFixed(0).padStart(8)} ops/s  (${n} ops in ${secs.toFixed(1)} s)`,
  );
  return rate;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-atserver-"));
  try {
    const ca = await createCertificateAuthority({ commonName: "bench CA" });
    const leaf = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] });
    writeFileSync(join(dir, "cert.pem"), leaf.cert);
    writeFileSync(join(dir, "key.pem"), leaf.key);
    writeFileSync(join(dir, "secret"), SECRET);

    console.log(
      `# storage layer in-process (KeyService over KeyStore, synchronous=FULL), ${SECONDS} s each`,
    );
    const store = KeyStore.open(join(dir, "direct"));
    const keys = new KeyService(store, "@alice", Date.now);
    await timed("store put (update semantics)", 1, async (i) => {
      keys.put(`public:k${i % 1000}.bench@alice`, `value-${i}`, {});
    });
    await timed("store batch() of 10 puts (ops = batches)", 1, async (i) => {
      store.batch(() => {
        for (let j = 0; j < 10; j++)
          keys.put(`public:k${(i * 10 + j) % 1000}.bench@alice`, `value-${i}`, {});
      });
    });
    await timed("store get (llookup semantics)", 1, async (i) => {
      keys.active(`public:k${i % 1000}.bench@alice`);
    });
    store.close();

    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [
        BIN,
        "-a",
        "@alice",
        "-p",
        String(port),
        "--host",
        "127.0.0.1",
        "--cert",
        join(dir, "cert.pem"),
        "--key",
        join(dir, "key.pem"),
        "--storage",
        join(dir, "server"),
        "--cram-secret-file",
        join(dir, "secret"),
        "--log-level",
        "warn",
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    try {
      let probe: AtClient | undefined;
      while (!probe) {
        probe = await AtClient.connect({
          host: "127.0.0.1",
          port,
          ca: ca.cert,
          atSign: "@alice",
        }).catch(async () => {
          await new Promise((r) => setTimeout(r, 50));
          return undefined;
        });
      }
      probe.destroy();
      for (const conns of [1, 10]) {
        const clients = await Promise.all(
          Array.from({ length: conns }, async () => {
            const c = await AtClient.connect({
              host: "127.0.0.1",
              port,
              ca: ca.cert,
              atSign: "@alice",
              timeoutMs: 30_000,
            });
            await c.cram(SECRET);
            return c;
          }),
        );
        console.log(
          `# atserver over TLS, ${conns} connection(s), one command in flight per connection`,
        );
        await timed(`update, ${conns} conn`, conns, async (i, c) => {
          await clients[c]!.execute(`update:public:k${i % 1000}.bench@alice value-${i}`);
        });
        await timed(`llookup, ${conns} conn`, conns, async (i, c) => {
          await clients[c]!.execute(`llookup:public:k${i % 1000}.bench@alice`);
        });
        for (const c of clients) c.destroy();
      }
    } finally {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
