// Notification latency from alice's `notify` to the line on bob's `monitor` (p50, p99) and
// sustained notifications per second between two real atServer processes found through a
// real atDirectory; beside a bare TLS round trip between two local processes (same run).
// Run: npx tsx bench/atserver-notify.ts   (about 30 s)
import { spawn } from "node:child_process";
import { connect as tlsConnect } from "node:tls";
import { startPlatform } from "../test/atserver/federation-harness";
import { freePort } from "../test/support/ports";

const LATENCY_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const SUSTAINED_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function bareTlsRoundTrip(cert: string, key: string, ca: string): Promise<number[]> {
  const port = await freePort();
  const src = `const t=require("node:tls");t.createServer({cert:${JSON.stringify(cert)},key:${JSON.stringify(key)}},s=>s.on("data",d=>s.write(d))).listen(${port},"127.0.0.1",()=>console.log("up"))`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((r) => child.stdout!.once("data", () => r()));
  const sock = tlsConnect({ host: "127.0.0.1", port, ca });
  await new Promise<void>((r) => sock.once("secureConnect", () => r()));
  sock.setNoDelay(true);
  const out: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      sock.once("data", () => r());
      sock.write("ping\n");
    });
    out.push(performance.now() - t0);
  }
  sock.destroy();
  child.kill();
  return out;
}

async function main(): Promise<void> {
  const p = await startPlatform(["@alice", "@bob"], { processes: ["@alice", "@bob"] });
  try {
    const alice = await p.owner("@alice");
    const mon = await p.owner("@bob");
    const arrived = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    mon.on("notification", (n: { key: string }) => {
      arrived.set(n.key, performance.now());
      waiters.get(n.key)?.();
    });
    mon.monitor("bench");
    // Warm up the pol connection.
    await alice.execute("notify:update:@bob:warm.bench@alice:x");
    await new Promise<void>((r) => {
      if (arrived.has("@bob:warm.bench@alice")) r();
      else waiters.set("@bob:warm.bench@alice", r);
    });

    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const key = `@bob:l${i}.bench@alice`;
      const got = new Promise<void>((r) => waiters.set(key, r));
      const t0 = performance.now();
      await alice.execute(`notify:update:${key}:v${i}`);
      await got;
      latencies.push(arrived.get(key)! - t0);
    }

    let sent = 0;
    const deadline = Date.now() + SUSTAINED_SECONDS * 1000;
    const t0 = performance.now();
    const senders = Array.from({ length: 4 }, async (_, w) => {
      const c = w === 0 ? alice : await p.owner("@alice");
      while (Date.now() < deadline) {
        await c.execute(`notify:update:@bob:s${w}-${sent++}.bench@alice:v`);
      }
    });
    await Promise.all(senders);
    const lastKey = () => [...arrived.keys()].filter((k) => /:s\d+-/.test(k)).length;
    while (lastKey() < sent && performance.now() - t0 < (SUSTAINED_SECONDS + 30) * 1000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const secs = (performance.now() - t0) / 1000;
    const bare = await bareTlsRoundTrip(p.tls.cert, p.tls.key, p.tls.ca);

    console.log(
      `# notify → monitor latency, ${LATENCY_SAMPLES} sequential notifications (alice and bob are separate processes)`,
    );
    console.log(`p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`);
    console.log(`# bare TLS round trip between two processes, ${LATENCY_SAMPLES} samples`);
    console.log(`p50 ${pct(bare, 50).toFixed(2)} ms, p99 ${pct(bare, 99).toFixed(2)} ms`);
    console.log(`# sustained: 4 senders for ${SUSTAINED_SECONDS} s`);
    console.log(
      `${sent} notifications sent, ${lastKey()} arrived on bob's monitor in ${secs.toFixed(1)} s = ${(lastKey() / secs).toFixed(0)}/s`,
    );
  } finally {
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
