// The Redis store against real redis-server processes: lookups with AUTH, the cache
// and its invalidation through RedisRecordWriter, and a Redis crash + restart.
import { expect } from "chai";
import {
  DEFAULT_SENTINEL_KEY,
  DirectoryServer,
  RedisRecordWriter,
  type DirectoryConfig,
} from "@atplatform/directory";
import { TestRedis } from "../support/redis-server";
import { testTls } from "../support/test-ca";
import { greeted, sleep, type RawClient } from "./helpers";

const PASSWORD = "test-only-password";

async function startRedisDirectory(
  redis: TestRedis,
  overrides: Partial<DirectoryConfig> = {},
): Promise<DirectoryServer> {
  const tls = await testTls();
  const server = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpHost: "127.0.0.1",
    httpPort: 0,
    cert: tls.files.cert,
    key: tls.files.key,
    redis: `redis://127.0.0.1:${redis.port}`,
    redisPassword: PASSWORD,
    throttleDelayMs: 50,
    logLevel: "silent",
    ...overrides,
  });
  await server.start();
  return server;
}

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

describe("directory Redis store", () => {
  let redis: TestRedis;
  let server: DirectoryServer | undefined;
  let writer: RedisRecordWriter | undefined;
  const clients: RawClient[] = [];
  const client = async () => {
    const c = await greeted(server!.port!);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    redis = await TestRedis.start({ password: PASSWORD });
    await redis.command("SET", "alice", "alice.test:6464");
    await redis.command("SET", "carol", "carol.test:7000");
    await redis.command("SET", DEFAULT_SENTINEL_KEY, "1");
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.stop();
    server = undefined;
    await writer?.close();
    writer = undefined;
    await redis.stop();
  });

  it("answers from Redis with AUTH (found, unknown, upper-case)", async () => {
    server = await startRedisDirectory(redis);
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    expect(await c.lookup("ALICE")).to.equal("alice.test:6464\r\n@");
    expect(await c.lookup("nobody")).to.equal("null\r\n@");
  });

  it("RedisRecordWriter invalidates the cache at once (TTL alone would take 60 s)", async () => {
    server = await startRedisDirectory(redis, { cacheTtlMs: 60_000 });
    writer = new RedisRecordWriter({
      url: `redis://127.0.0.1:${redis.port}`,
      password: PASSWORD,
    });
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    expect(await c.lookup("dave")).to.equal("null\r\n@"); // now cached as unknown
    await writer.set("@Alice", "moved.test:7777");
    await writer.set("dave", "dave.test:1");
    await writer.set("dave", "dave.test:1"); // idempotent
    await eventually(async () => (await c.lookup("alice")) === "moved.test:7777\r\n@");
    // dave was cached as unknown: a second connection so the throttle does not interfere.
    const d = await client();
    expect(await d.lookup("dave")).to.equal("dave.test:1\r\n@");
    await writer.delete("alice");
    await writer.delete("alice"); // idempotent
    const e = await client();
    await eventually(async () => (await e.lookup("alice")) === "null\r\n@");
    expect(await redis.command("GET", "dave")).to.equal("dave.test:1");
  });

  it("past the TTL with the subscription up: answers from the cache and refreshes behind it", async () => {
    server = await startRedisDirectory(redis, { cacheTtlMs: 100 });
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    // A change without its invalidation message (as if the message were lost).
    await redis.command("SET", "alice", "moved.test:1");
    await sleep(150);
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@"); // starts the refresh
    await eventually(async () => (await c.lookup("alice")) === "moved.test:1\r\n@", 1000);
    // With stale answers off, the first lookup past the TTL already sees the change.
    await server.stop();
    server = await startRedisDirectory(redis, { cacheTtlMs: 100, cacheMaxStaleMs: 0 });
    const d = await client();
    expect(await d.lookup("alice")).to.equal("moved.test:1\r\n@");
    await redis.command("SET", "alice", "again.test:2");
    await sleep(150);
    expect(await d.lookup("alice")).to.equal("again.test:2\r\n@");
  });

  it("coalesces the lookups of concurrent connections into MGETs (no cache)", async () => {
    server = await startRedisDirectory(redis, { cacheTtlMs: 0 });
    const conns = await Promise.all(Array.from({ length: 20 }, () => client()));
    await redis.command("CONFIG", "RESETSTAT");
    for (const c of conns) c.send("alice\n");
    for (const c of conns) {
      await c.waitForBytes("@alice.test:6464\r\n@".length);
      expect(c.text).to.equal("@alice.test:6464\r\n@");
    }
    const stats = String(await redis.command("INFO", "commandstats"));
    const calls = (cmd: string) =>
      Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls("get")).to.equal(0);
    expect(calls("mget")).to.be.within(1, 20);
  });

  it("never answers null while Redis is down, and recovers when it is back", async () => {
    server = await startRedisDirectory(redis, { cacheTtlMs: 100, redisCommandTimeoutMs: 200 });
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    await redis.kill();
    await sleep(150); // the cached entry is now past its TTL: only stale-if-error can answer
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    expect(server.ready()).to.equal(false);
    // carol exists but was never cached: the connection is closed, not told `null`.
    const d = await client();
    d.send("carol\n");
    await d.waitForClose();
    expect(d.text).to.equal("@");
    // Same for an atSign that may or may not exist.
    const e = await client();
    e.send("zed\n");
    await e.waitForClose();
    expect(e.text).to.equal("@");
    redis = await redis.restart(); // no RDB in tests: the records must be written again
    await redis.command("SET", "alice", "alice.test:6464");
    await redis.command("SET", "carol", "carol.test:7000");
    await redis.command("SET", DEFAULT_SENTINEL_KEY, "1");
    await eventually(async () => server!.ready());
    const f = await client();
    expect(await f.lookup("carol")).to.equal("carol.test:7000\r\n@");
    expect(await f.lookup("alice")).to.equal("alice.test:6464\r\n@");
  });

  it("re-subscribes after a Redis restart and invalidates again", async () => {
    server = await startRedisDirectory(redis, { cacheTtlMs: 60_000 });
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.test:6464\r\n@");
    redis = await redis.restart();
    await redis.command("SET", "alice", "alice.test:6464");
    await redis.command("SET", DEFAULT_SENTINEL_KEY, "1");
    await eventually(async () => server!.ready());
    writer = new RedisRecordWriter({ url: `redis://127.0.0.1:${redis.port}`, password: PASSWORD });
    // The subscription comes back on its own; poll until a publish reaches it.
    await eventually(
      async () =>
        Number(
          await redis.command("PUBSUB", "NUMSUB", writer!.channel).then((r) => (r as unknown[])[1]),
        ) === 1,
    );
    await writer.set("alice", "after-restart.test:1");
    await eventually(async () => (await c.lookup("alice")) === "after-restart.test:1\r\n@");
  });

  it("starts while Redis is down (closing lookups, not ready) and recovers when it appears", async function () {
    this.timeout(20_000);
    const port = redis.port;
    await redis.kill(); // the address is known, nothing listens there yet
    server = await startRedisDirectory(redis); // waits up to 5 s for Redis, then starts anyway
    expect(server.ready()).to.equal(false);
    const c = await client();
    c.send("alice\n");
    await c.waitForClose();
    expect(c.text).to.equal("@");
    redis = await TestRedis.start({ password: PASSWORD, port, dir: redis.dir });
    await redis.command("SET", "alice", "alice.test:6464");
    await redis.command("SET", DEFAULT_SENTINEL_KEY, "1");
    await eventually(async () => server!.ready(), 10_000);
    const d = await client();
    expect(await d.lookup("alice")).to.equal("alice.test:6464\r\n@");
  });

  it("reports readiness and store errors on the ops port", async () => {
    server = await startRedisDirectory(redis);
    const base = `http://127.0.0.1:${server.httpPort}`;
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
    await redis.kill();
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 503);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/atdirectory_store_errors_total\{source="redis_\w+"\} [1-9]/);
  });
});
