// H6 measurement: wrong `null`s while the directory's Redis replica restarts empty (its RDB
// gone) and resyncs with stock Redis 7 settings, and after it is back (cached nulls).
// Every record exists, so every `null` answered is a wrong one. In-process directory,
// persistent client connections looking up random records in a closed loop.
//
//   npx tsx bench/directory-replica-resync.ts [--records 200000] [--clients 16]
//     [--before 2] [--after 30]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DirectoryServer } from "@atplatform/directory";
import { TestRedis } from "../test/support/redis-server";
import { testTls } from "../test/support/test-ca";
import { greeted, sleep, type RawClient } from "../test/directory/helpers";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const RECORDS = Number(arg("records", "200000"));
const CLIENTS = Number(arg("clients", "16"));
const BEFORE_S = Number(arg("before", "2"));
const AFTER_S = Number(arg("after", "30"));
const PASSWORD = "bench-only-password";
const address = (i: number) => `host${i}.bench.test:${1024 + (i % 60000)}`;

interface Counts {
  found: number;
  nulls: number;
  closed: number;
}

async function main(): Promise<void> {
  const primary = await TestRedis.start({ password: PASSWORD });
  let replica = await TestRedis.start({ password: PASSWORD, replicaOf: primary });
  const c = primary.client();
  await c.connect();
  for (let start = 0; start < RECORDS; start += 10_000) {
    const p = c.pipeline();
    for (let i = start; i < Math.min(RECORDS, start + 10_000); i++) p.set(`user${i}`, address(i));
    await p.exec();
  }
  await c.set("atdirectory:sentinel", "1"); // what the registrar's writer keeps
  c.disconnect();
  await replica.waitForReplication();
  await sleep(500);

  const tls = await testTls();
  const server = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpPort: -1,
    cert: tls.files.cert,
    key: tls.files.key,
    redis: `redis://127.0.0.1:${replica.port}`,
    redisPassword: PASSWORD,
    throttleDelayMs: 0,
    throttleCloseAfter: 1_000_000,
    ipMissBudget: 0,
    logLevel: "silent",
  });
  const { port } = await server.start();

  // Per-second buckets from the replica's kill.
  const buckets = new Map<number, Counts>();
  let t0 = Date.now() + BEFORE_S * 1000;
  const bucket = () => {
    const s = Math.floor((Date.now() - t0) / 1000);
    let b = buckets.get(s);
    if (!b) buckets.set(s, (b = { found: 0, nulls: 0, closed: 0 }));
    return b;
  };
  let running = true;
  const worker = async () => {
    let conn: RawClient | undefined;
    while (running) {
      try {
        conn ??= await greeted(port);
        const i = Math.floor(Math.random() * RECORDS);
        const answer = await conn.lookup(`user${i}`);
        if (answer === `${address(i)}\r\n@`) bucket().found++;
        else if (answer === "null\r\n@") bucket().nulls++;
        else {
          bucket().closed++;
          conn.close();
          conn = undefined;
          await sleep(50); // clients retry after a short delay
        }
      } catch {
        bucket().closed++;
        conn?.close();
        conn = undefined;
        await sleep(50);
      }
    }
    conn?.close();
  };
  const workers = Array.from({ length: CLIENTS }, () => worker());

  await sleep(BEFORE_S * 1000);
  t0 = Date.now();
  await replica.kill();
  rmSync(join(replica.dir, "dump.rdb"), { force: true }); // restarted without its RDB
  replica = await replica.restart();
  const restartedAt = (Date.now() - t0) / 1000;
  await replica.waitForReplication();
  const syncedAt = (Date.now() - t0) / 1000;
  await sleep(AFTER_S * 1000);
  running = false;
  await Promise.all(workers);
  await server.stop();
  await replica.stop();
  await primary.stop();

  const rows = [...buckets.entries()].filter(([s]) => s >= -BEFORE_S).sort(([a], [b]) => a - b);
  const sum = (pred: (s: number) => boolean, k: keyof Counts) =>
    rows.filter(([s]) => pred(s)).reduce((n, [, b]) => n + b[k], 0);
  console.log(
    `${RECORDS} records, ${CLIENTS} clients; replica killed at 0 s, restarted at ` +
      `${restartedAt.toFixed(1)} s, link up at ${syncedAt.toFixed(1)} s`,
  );
  console.log("| second | found | null (wrong) | closed |\n| ---: | ---: | ---: | ---: |");
  for (const [s, b] of rows) console.log(`| ${s} | ${b.found} | ${b.nulls} | ${b.closed} |`);
  const during = (s: number) => s >= 0 && s < Math.ceil(syncedAt);
  const after = (s: number) => s >= Math.ceil(syncedAt);
  console.log(
    `wrong nulls: ${sum(during, "nulls")} until the link was up, ${sum(after, "nulls")} after ` +
      `(last at ${Math.max(-1, ...rows.filter(([, b]) => b.nulls > 0).map(([s]) => s))} s); ` +
      `closed: ${sum(during, "closed")} until up, ${sum(after, "closed")} after`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
