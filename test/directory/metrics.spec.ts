// The atDirectory's /metrics scraped over real HTTP while real events happen: process and
// runtime metrics, the Redis reads node's state (real redis-server processes: a replica
// whose resync is held), the cache hit ratio and the age of stale answers.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { DirectoryServer, RedisRecordWriter } from "@atplatform/directory";
import { TestRedis } from "../support/redis-server";
import { testTls } from "../support/test-ca";
import { greeted, sleep, startDirectory, type TestDirectory } from "./helpers";
import { TcpProxy } from "./tcp-proxy";

const PASSWORD = "test-only-password";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

/** The value of one series (`name{labels}`), or undefined. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(50);
  }
}

describe("directory metrics", function () {
  this.timeout(60_000);

  describe("file records", () => {
    let dir: TestDirectory | undefined;
    afterEach(async () => {
      await dir?.stop();
      dir = undefined;
    });

    it("exports the process and Node.js runtime metrics under prom-client's names", async () => {
      dir = await startDirectory({ alice: "a.test:1" }, { httpPort: 0 });
      const text = await scrape(dir.httpPort!);
      for (const name of [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "nodejs_heap_size_used_bytes",
        "nodejs_eventloop_lag_p99_seconds",
        "nodejs_active_handles_total",
      ]) {
        expect(value(text, name), name).to.be.a("number").and.not.NaN;
      }
      expect(value(text, "process_resident_memory_bytes")).to.be.greaterThan(1_000_000);
      expect(text).to.match(/nodejs_heap_space_size_used_bytes\{space="old_space"\} \d+/);
      expect(text).to.match(/nodejs_version_info\{version="v\d+/);
      // No Redis store: no store state series.
      expect(text).not.to.include("atdirectory_store_state{");
    });
  });

  describe("Redis", () => {
    let primary: TestRedis;
    let replica: TestRedis | undefined;
    let link: TcpProxy | undefined;
    let writer: RedisRecordWriter;
    let server: DirectoryServer | undefined;

    beforeEach(async () => {
      primary = await TestRedis.start({ password: PASSWORD });
      writer = new RedisRecordWriter({
        url: `redis://127.0.0.1:${primary.port}`,
        password: PASSWORD,
      });
      await writer.set("alice", "a.test:1");
    });

    afterEach(async () => {
      await server?.stop();
      server = undefined;
      await writer.close();
      await link?.close();
      await replica?.stop();
      replica = link = undefined;
      await primary.stop();
    });

    async function start(readPort: number, cacheTtlMs = 60_000): Promise<number> {
      const tls = await testTls();
      server = await DirectoryServer.create({
        host: "127.0.0.1",
        port: 0,
        httpPort: 0,
        cert: tls.files.cert,
        key: tls.files.key,
        redis: `redis://127.0.0.1:${readPort}`,
        redisPassword: PASSWORD,
        redisHealthIntervalMs: 100,
        redisCommandTimeoutMs: 300,
        cacheTtlMs,
        logLevel: "silent",
      });
      await server.start();
      return server.httpPort!;
    }

    const state = async (port: number) => {
      const text = await scrape(port);
      return ["healthy", "degraded", "syncing", "unavailable"].find(
        (s) => value(text, `atdirectory_store_state{state="${s}"}`) === 1,
      );
    };

    it("store state: healthy, then unavailable when the dataset is emptied, healthy once marked", async () => {
      const http = await start(primary.port);
      await eventually(async () => (await state(http)) === "healthy");
      await primary.command("FLUSHALL");
      await eventually(async () => (await state(http)) === "unavailable");
      await writer.markPopulated();
      await eventually(async () => (await state(http)) === "healthy");
    });

    it("store state: a replica restarted empty whose resync is held is syncing until it completes", async () => {
      link = await TcpProxy.start([primary.port]);
      replica = await TestRedis.start({ password: PASSWORD, replicaOf: link });
      await replica.waitForReplication();
      const http = await start(replica.port);
      await eventually(async () => (await state(http)) === "healthy");
      link.hold();
      await replica.kill();
      rmSync(join(replica.dir, "dump.rdb"), { force: true }); // restarted empty
      replica = await TestRedis.start({
        password: PASSWORD,
        replicaOf: link,
        port: replica.port,
        dir: replica.dir,
      });
      await eventually(async () => (await state(http)) === "syncing");
      link.release();
      await replica.waitForReplication();
      await eventually(async () => (await state(http)) === "healthy");
    });

    it("cache hit ratio and stale age move with lookups", async () => {
      const http = await start(primary.port, 200);
      await eventually(async () => (await state(http)) === "healthy");
      const c = await greeted(server!.port!);
      expect(await c.lookup("alice")).to.equal("a.test:1\r\n@"); // miss
      expect(await c.lookup("alice")).to.equal("a.test:1\r\n@"); // hit
      let text = await scrape(http);
      expect(value(text, 'atdirectory_cache_hit_ratio{cache="redis"}')).to.equal(0.5);
      // Past its TTL while invalidations are live: answered stale and refreshed.
      await sleep(400);
      expect(await c.lookup("alice")).to.equal("a.test:1\r\n@");
      c.close();
      text = await scrape(http);
      expect(value(text, 'atdirectory_cache_stale_age_seconds_count{cache="redis"}')).to.equal(1);
      expect(value(text, 'atdirectory_cache_hit_ratio{cache="redis"}')).to.be.closeTo(1 / 3, 1e-9);
    });
  });
});
