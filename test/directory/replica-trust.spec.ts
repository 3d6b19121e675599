// H6 (security issue 11): the directory must never answer a wrong `null` because of the
// Redis node it reads from. Real redis-server processes: a primary and replicas whose
// replication links go through TcpProxy (so a test can hold a link: lag, partition, or
// a resync that stays in progress), and a round-robin TcpProxy as the read endpoint.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { DirectoryServer, RedisRecordWriter, type DirectoryConfig } from "@atplatform/directory";
import { TestRedis } from "../support/redis-server";
import { testTls } from "../support/test-ca";
import { greeted, sleep, type RawClient } from "./helpers";
import { TcpProxy } from "./tcp-proxy";

const PASSWORD = "test-only-password";
const RECORDS = 50;
const addr = (i: number) => `host${i}.test:${7000 + i}`;

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(25);
  }
}

async function info(redis: TestRedis): Promise<string> {
  return String(await redis.command("INFO", "replication"));
}

describe("H6: no wrong null from the atDirectory while its Redis replica is not in sync", function () {
  this.timeout(60_000);
  let primary: TestRedis;
  const replicas: TestRedis[] = [];
  const proxies: TcpProxy[] = [];
  let writer: RedisRecordWriter;
  let server: DirectoryServer | undefined;
  const clients: RawClient[] = [];

  /** A replica of the primary whose replication link goes through its own proxy. */
  async function startReplica(): Promise<{ replica: TestRedis; link: TcpProxy }> {
    const link = await TcpProxy.start([primary.port]);
    proxies.push(link);
    const replica = await TestRedis.start({ password: PASSWORD, replicaOf: link });
    replicas.push(replica);
    await replica.waitForReplication();
    return { replica, link };
  }

  /**
   * Restarts a killed replica on its port and directory. A replica keeps the RDB of its
   * last full sync (dump.rdb): `empty` removes it first, as a lost disk would.
   */
  async function restartReplica(
    old: TestRedis,
    link: TcpProxy,
    empty: boolean,
  ): Promise<TestRedis> {
    if (empty) rmSync(join(old.dir, "dump.rdb"), { force: true });
    const replica = await TestRedis.start({
      password: PASSWORD,
      replicaOf: link,
      port: old.port,
      dir: old.dir,
    });
    replicas[replicas.indexOf(old)] = replica;
    return replica;
  }

  async function startDirectory(readPort: number, overrides: Partial<DirectoryConfig> = {}) {
    const tls = await testTls();
    server = await DirectoryServer.create({
      host: "127.0.0.1",
      port: 0,
      httpPort: -1,
      cert: tls.files.cert,
      key: tls.files.key,
      redis: `redis://127.0.0.1:${readPort}`,
      redisPassword: PASSWORD,
      redisHealthIntervalMs: 100,
      redisCommandTimeoutMs: 300,
      throttleDelayMs: 10,
      throttleCloseAfter: 1000,
      ipMissBudget: 0,
      logLevel: "silent",
      ...overrides,
    });
    await server.start();
    return server;
  }

  /** One lookup on its own connection: the answer, or "closed" (never a null for a record). */
  async function ask(atsign: string): Promise<string> {
    const c = await greeted(server!.port!);
    clients.push(c);
    const answer = await c.lookup(atsign);
    c.close();
    return answer === "" ? "closed" : answer.replace(/\r\n@$/, "");
  }

  /** Asks every record; returns how many answered `null` (each one a wrong null). */
  async function wrongNulls(range: number[]): Promise<number> {
    const answers = await Promise.all(range.map((i) => ask(`user${i}`)));
    answers.forEach((a, k) => {
      if (a !== "null" && a !== "closed") expect(a).to.equal(addr(range[k]!));
    });
    return answers.filter((a) => a === "null").length;
  }

  const all = Array.from({ length: RECORDS }, (_, i) => i);

  beforeEach(async () => {
    primary = await TestRedis.start({ password: PASSWORD });
    writer = new RedisRecordWriter({
      url: `redis://127.0.0.1:${primary.port}`,
      password: PASSWORD,
    });
    for (const i of all) await writer.set(`user${i}`, addr(i));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.stop();
    server = undefined;
    await writer.close();
    for (const p of proxies.splice(0)) await p.close();
    for (const r of replicas.splice(0)) await r.stop();
    await primary.stop();
  });

  it("H6: a dataset without the sentinel key (never marked, or emptied) answers no null until marked", async () => {
    await primary.command("FLUSHALL");
    await startDirectory(primary.port);
    expect(await ask("user1")).to.equal("closed");
    expect(await ask("nobody")).to.equal("closed");
    await writer.markPopulated(); // a new, legitimately empty dataset
    await eventually(async () => (await ask("nobody")) === "null");
    await writer.set("user1", addr(1));
    expect(await ask("user1")).to.equal(addr(1));
  });

  it("H6: replica restarted empty: no null while it resyncs, and none cached after", async () => {
    const { replica, link } = await startReplica();
    await startDirectory(replica.port);
    expect(await ask("user1")).to.equal(addr(1)); // cached
    expect(await ask("nobody")).to.equal("null"); // a true null, cached as unknown
    link.hold(); // the restarted replica stays empty, its sync cannot finish
    await replica.kill();
    const restarted = await restartReplica(replica, link, true);
    expect(await restarted.command("DBSIZE")).to.equal(0);
    // It answers PING and GET → nil; the directory reconnects to it and must not trust it.
    await sleep(500);
    expect(await wrongNulls(all)).to.equal(0);
    expect(await ask("user1")).to.equal(addr(1)); // a cached address is still served
    link.release();
    await restarted.waitForReplication();
    await eventually(async () => (await ask("user2")) === addr(2));
    // Nothing read during the window was cached: every record is answered right away.
    const answers = await Promise.all(all.map((i) => ask(`user${i}`)));
    expect(answers).to.deep.equal(all.map(addr));
  });

  it("H6: replica restarted with its old data: an atSign registered meanwhile is not null", async () => {
    const { replica, link } = await startReplica();
    await replica.command("SAVE"); // an RDB with the records so far
    await startDirectory(replica.port);
    expect(await ask("user1")).to.equal(addr(1));
    link.hold();
    await replica.kill();
    await writer.set("latecomer", "late.test:1");
    const restarted = await restartReplica(replica, link, false);
    expect(await restarted.command("GET", "user3")).to.equal(addr(3)); // loaded from the RDB
    await sleep(500);
    expect(await ask("latecomer")).to.equal("closed");
    expect(await ask("user3")).to.equal(addr(3)); // its old data still answers addresses
    link.release();
    await restarted.waitForReplication();
    await eventually(async () => (await ask("latecomer")) === "late.test:1");
  });

  it("H6: primary lost and restarted empty: replicas that resync to nothing answer no null", async () => {
    const { replica } = await startReplica();
    await startDirectory(replica.port);
    expect(await ask("nobody")).to.equal("null");
    await primary.kill();
    await eventually(async () => (await info(replica)).includes("master_link_status:down"));
    await sleep(300);
    // Its copy is complete up to the loss: addresses are answered, an unknown is not.
    expect(await ask("user4")).to.equal(addr(4));
    expect(await ask("ghost")).to.equal("closed");
    primary = await primary.restart(); // no RDB: comes back empty, the replica follows
    await replica.waitForReplication();
    await eventually(async () => Number(await replica.command("DBSIZE")) === 0);
    await sleep(300);
    expect(await wrongNulls(all)).to.equal(0);
  });

  it("H6: replica killed (kill -9) or restarted empty behind the read endpoint: reads fail over to the other replica", async () => {
    const a = await startReplica();
    const b = await startReplica();
    const endpoint = await TcpProxy.start([a.replica.port, b.replica.port]);
    proxies.push(endpoint);
    await startDirectory(endpoint.port);
    expect(await ask("user5")).to.equal(addr(5));
    await a.replica.kill();
    expect(await wrongNulls(all)).to.equal(0);
    await eventually(async () => (await ask("user6")) === addr(6));
    expect(await ask("nobody-else")).to.equal("null"); // a healthy replica's null is trusted
    // a comes back empty and cannot sync: the endpoint sends some connections there.
    a.link.hold();
    const empty = await restartReplica(a.replica, a.link, true);
    await b.replica.kill(); // the reads connection must reconnect, maybe to the empty one
    b.replica = await restartReplica(b.replica, b.link, false);
    await b.replica.waitForReplication();
    for (let round = 0; round < 5; round++) {
      expect(await wrongNulls(all)).to.equal(0);
      await sleep(100);
    }
    await eventually(async () => (await ask("user7")) === addr(7));
    const answers = await Promise.all(all.map((i) => ask(`user${i}`)));
    expect(answers).to.deep.equal(all.map(addr));
    expect(await empty.command("DBSIZE")).to.equal(0);
    a.link.release();
  });

  it("H6: network partition between a replica and its primary: no null after the silence bound", async () => {
    const { replica, link } = await startReplica();
    await primary.command("CONFIG", "SET", "repl-ping-replica-period", "1");
    await startDirectory(replica.port, { redisMaxReplicaSilenceMs: 3000 });
    expect(await ask("user7")).to.equal(addr(7));
    link.hold(); // no RST, no FIN: the replica still reports its link up
    await writer.set("partitioned", "part.test:1");
    await eventually(async () => {
      const m = /master_last_io_seconds_ago:(\d+)/.exec(await info(replica));
      return Number(m?.[1]) > 3;
    });
    expect(await info(replica)).to.include("master_link_status:up");
    await sleep(300);
    expect(await ask("partitioned")).to.equal("closed");
    expect(await ask("user8")).to.equal(addr(8));
    link.release();
    await eventually(async () => (await ask("partitioned")) === "part.test:1");
  });

  it("H6: read endpoint spreads reads and invalidations over replicas: a lagging one does not re-cache the old answer", async () => {
    const a = await startReplica();
    const b = await startReplica();
    const endpoint = await TcpProxy.start([a.replica.port, b.replica.port]);
    proxies.push(endpoint);
    await startDirectory(endpoint.port, { cacheTtlMs: 60_000 });
    const subscribers = async (r: TestRedis) =>
      Number(((await r.command("PUBSUB", "NUMSUB", writer.channel)) as unknown[])[1]);
    const onA = await subscribers(a.replica);
    expect(onA + (await subscribers(b.replica))).to.equal(1);
    const reads = onA === 1 ? b : a; // the replica the reads connection reached
    expect(await ask("user9")).to.equal(addr(9));
    expect(await ask("newcomer")).to.equal("null"); // cached as unknown
    reads.link.hold(); // the reads replica lags; the subscriber's replica does not
    await writer.set("user9", "moved.test:1");
    await writer.set("newcomer", "new.test:1");
    await writer.delete("user10");
    await eventually(async () => (await ask("user9")) === "moved.test:1", 3000);
    await eventually(async () => (await ask("newcomer")) === "new.test:1", 3000);
    await eventually(async () => (await ask("user10")) === "null", 3000);
    expect(await reads.replica.command("GET", "user9")).to.equal(addr(9)); // still old there
    await sleep(200);
    expect(await ask("user9")).to.equal("moved.test:1");
    reads.link.release();
  });
});
