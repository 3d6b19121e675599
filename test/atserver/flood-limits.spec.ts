// Issue 11 (H4, H5, M1): floods that grew an atServer's memory or locked its owner out,
// each against a real in-process atServer over real TLS (peers: a second atServer with a
// CA-valid certificate, pol-authenticated).
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { Duplex } from "node:stream";
import { cramDigest, verbs } from "@atplatform/protocol/src/core";
import type { AtClient } from "@atplatform/protocol";
import { NotificationStore } from "../../services/atserver/src/notifications/notification-store";
import type { NotificationRecord } from "../../services/atserver/src/notifications/record";
import { KeyStore } from "../../services/atserver/src/store";
import { RawConn, SECRET, startServer, tempDir, type Started } from "./harness";
import { startPlatform, type Platform } from "./federation-harness";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection (from `ip`), greeted; CRAM-authenticated as @alice when asked. */
async function raw(s: Started, opts: { auth?: boolean; ip?: string } = {}): Promise<RawConn> {
  const c = await RawConn.open(s.port, s.tls.ca, opts.ip);
  await c.until((t) => t === "@");
  c.chunks.length = 0;
  if (opts.auth) {
    c.write("from:@alice\n");
    const challenge = (await c.until((t) => t.endsWith("\n@"))).slice("data:".length, -2);
    c.chunks.length = 0;
    c.write(`cram:${cramDigest(SECRET, challenge)}\n`);
    await c.until((t) => t.endsWith("@alice@"));
    c.chunks.length = 0;
  }
  return c;
}

async function until(ok: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("atserver floods: connections and input (issue 11 H4, M1)", function () {
  this.timeout(60_000);
  const open: RawConn[] = [];
  let s: Started | undefined;
  afterEach(async () => {
    for (const c of open.splice(0)) c.destroy();
    await s?.stop();
    s = undefined;
  });
  async function conn(opts: { auth?: boolean; ip?: string } = {}): Promise<RawConn> {
    const c = await raw(s!, opts);
    open.push(c);
    return c;
  }

  it("H4: an unauthenticated line past --unauth-max-command-bytes is refused AT0005 and closed; the owner's 1 MB update passes", async () => {
    s = await startServer({ unauthMaxCommandBytes: 65_536 });
    const u = await conn();
    u.write(`lookup:${"x".repeat(200_000)}`); // no newline: refused while it arrives
    await u.waitClosed();
    expect(u.text).to.equal(
      "error:AT0005-Exception: InboundBuffer overflow: server received request which exceeded the buffer size limit. Terminating the connection.\n",
    );
    const a = await conn({ auth: true });
    a.write(`update:public:big.h4@alice ${"v".repeat(1_000_000)}\n`);
    await a.until((t) => t.endsWith("\n@alice@"));
    expect(a.text).to.match(/^data:\d+\n@alice@$/);
  });

  it("H4: reading pauses on queued bytes, not lines: behind noop:2000 at most --input-budget-bytes wait", async () => {
    const budget = 65_536;
    s = await startServer({ inputBudgetBytes: budget });
    const a = await conn({ auth: true });
    const line = `update:public:q.h4@alice ${"v".repeat(60_000)}\n`;
    a.write("noop:2000\n");
    for (let i = 0; i < 40; i++) a.write(line); // 2.4 MB, 41 commands
    let most = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      for (const c of s.server.pool) most = Math.max(most, c.pendingInputBytes);
      await sleep(10);
    }
    // One line over the budget at most (it is read before the pause), plus one TLS record.
    expect(most)
      .to.be.greaterThan(0)
      .and.at.most(budget + line.length + 16_384);
    // Nothing is lost: every command is answered once reading resumes.
    await a.until((t) => t.split("\n@alice@").length === 42, 30_000);
    expect(a.text.startsWith("data:ok\n@alice@")).to.equal(true);
  });

  it("M1: unauthenticated connections from many IPs filling the pool do not lock the owner out", async () => {
    s = await startServer({ inboundMaxLimit: 40, unauthPerIp: 5, ownerReservedConnections: 4 });
    const flood: RawConn[] = [];
    for (let ip = 2; ip < 10; ip++)
      for (let i = 0; i < 5; i++) flood.push(await conn({ ip: `127.0.0.${ip}` }));
    // Past cap − reserve, each newcomer closed the oldest unauthenticated connection.
    expect(s.server.pool.size).to.equal(36);
    const timer = setInterval(() => {
      for (const c of flood) if (!c.closed) c.write("info:brief\n");
    }, 300);
    try {
      await sleep(400);
      const owner = await s.client();
      await owner.cram(SECRET);
      await owner.execute("update:public:m1@alice in");
      expect(await owner.execute("llookup:public:m1@alice")).to.equal("in");
      expect(flood.filter((c) => c.closed).length).to.be.at.least(1);
    } finally {
      clearInterval(timer);
    }
  });

  it("M1: one IP holds at most --unauth-per-ip unauthenticated connections (AT0012); authenticated ones do not count", async () => {
    s = await startServer({ unauthPerIp: 3 });
    const first = await conn({ ip: "127.0.0.2" });
    await conn({ ip: "127.0.0.2" });
    await conn({ ip: "127.0.0.2" });
    const refused = await RawConn.open(s.port, s.tls.ca, "127.0.0.2");
    open.push(refused);
    await refused.waitClosed();
    expect(refused.text).to.equal("error:AT0012-Inbound connection limit exceeded\n");
    // Another IP is not affected; one that authenticated frees its IP's slot.
    await conn({ ip: "127.0.0.3" });
    first.write("from:@alice\n");
    const challenge = (await first.until((t) => t.endsWith("\n@"))).slice("data:".length, -2);
    first.write(`cram:${cramDigest(SECRET, challenge)}\n`);
    await first.until((t) => t.endsWith("@alice@"));
    const again = await conn({ ip: "127.0.0.2" });
    again.write("info:brief\n");
    await again.until((t) => t.endsWith("\n@"));
  });

  it("M1: a refused connection that never closes its side is cut after 2 s (refusals hold no sockets)", async () => {
    s = await startServer({ unauthPerIp: 1 });
    // In-process streams that keep their read side open, as a client ignoring the FIN would.
    const stream = () =>
      new Duplex({ allowHalfOpen: true, read() {}, write: (_c, _e, cb) => cb() });
    const held = stream();
    expect(s.server.handle(held, "192.0.2.7:1000")).to.not.equal(undefined);
    const refused = stream();
    expect(s.server.handle(refused, "192.0.2.7:1001")).to.equal(undefined);
    await until(() => refused.destroyed, "the refused stream to be destroyed", 5000);
    expect(held.destroyed).to.equal(false);
  });

  it("M1: an unauthenticated connection is closed after --unauth-lifetime-ms even while busy; an owner's is not", async () => {
    s = await startServer({ unauthLifetimeMs: 400 });
    const u = await conn();
    const a = await conn({ auth: true });
    const timer = setInterval(() => {
      if (!u.closed) u.write("info:brief\n");
      a.write("info:brief\n");
    }, 100);
    try {
      await u.waitClosed(5000);
      await sleep(300);
      expect(a.closed).to.equal(false);
    } finally {
      clearInterval(timer);
    }
  });
});

describe("atserver floods: monitors (issue 11 H5)", function () {
  this.timeout(60_000);
  let s: Started | undefined;
  const open: RawConn[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) c.destroy();
    await s?.stop();
    s = undefined;
  });

  it("H5: a monitor that stops reading is closed once --max-output-bytes are unsent; its replay by epoch loses nothing", async () => {
    // Quotas out of the way: every notification must stay to be replayed.
    s = await startServer({
      maxOutputBytes: 262_144,
      notifyPeerQuotaBytes: 1e9,
      notifyQuotaBytes: 1e9,
    });
    const m = await raw(s, { auth: true });
    open.push(m);
    m.write("monitor\n");
    await sleep(200);
    expect(s.server.monitors.count).to.equal(1);
    m.socket.pause(); // stops reading: the kernel buffers fill, then the server's
    const owner = await s.owner();
    const value = "n".repeat(65_536);
    const ids: string[] = [];
    // Loopback socket buffers take several MB before the server's output backs up.
    for (let i = 0; i < 1000 && s.server.monitors.count > 0; i++)
      ids.push(await owner.execute(`notify:update:@alice:k${i}.h5@alice:${value}`));
    await until(() => s!.server.monitors.count === 0, "the stalled monitor to be closed");
    expect(ids.length).to.be.lessThan(1000);
    const again = await raw(s, { auth: true });
    open.push(again);
    again.write("monitor:0\n");
    await again.until((t) => ids.every((id) => t.includes(`"id":"${id}"`)), 20_000);
  });

  it("H5: a replay by epoch waits for the client; what arrives meanwhile follows it, once each, in order", async () => {
    s = await startServer({ notifyPeerQuotaBytes: 1e9, notifyQuotaBytes: 1e9 });
    const owner = await s.owner();
    const value = "r".repeat(20_000);
    const before: string[] = [];
    for (let i = 0; i < 150; i++)
      before.push(await owner.execute(`notify:update:@alice:old${i}.replay@alice:${value}`));
    const m = await raw(s, { auth: true });
    open.push(m);
    m.write("monitor:0\n");
    // Sent while the 3 MB replay is being written.
    const during: string[] = [];
    for (let i = 0; i < 30; i++)
      during.push(await owner.execute(`notify:update:@alice:new${i}.replay@alice:x`));
    const all = [...before, ...during];
    await m.until((t) => all.every((id) => t.includes(`"id":"${id}"`)), 30_000);
    const seen = [
      ...m.text.matchAll(/"id":"([^"]+)","from":"@alice","to":"@alice","key":"@alice:(?:old|new)/g),
    ].map((x) => x[1]!);
    expect(seen).to.deep.equal(all);
  });

  it("H5: idleness counts reads: a monitor that only receives pushes is reaped at the idle limit", async () => {
    s = await startServer({ authIdleMs: 400 });
    const m = await raw(s, { auth: true });
    open.push(m);
    m.write("monitor\n");
    await sleep(100);
    const owner = await s.owner();
    const t0 = Date.now();
    while (Date.now() - t0 < 1000) {
      await owner.execute(`notify:update:@alice:idle.h5@alice:${Date.now()}`);
      await sleep(100);
    }
    expect(m.text).to.include("idle.h5@alice");
    s.server.pool.reap();
    await m.waitClosed();
    // The connection that kept sending is still served.
    expect(await owner.execute("info:brief")).to.match(/^\{"version"/);
  });
});

describe("atserver floods: the notification store (issue 11 H5)", () => {
  let dir: string;
  let ks: KeyStore;
  const t = 1_000_000;
  beforeEach(() => {
    dir = tempDir("notify-store-");
    ks = KeyStore.open(dir, { now: () => t });
  });
  afterEach(() => {
    ks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function received(id: string, from: string, value: string | null): NotificationRecord {
    return {
      id,
      type: "received",
      from,
      to: "@alice",
      key: `@alice:${id}${from}`,
      value,
      operation: "update",
      messageType: "key",
      priority: "low",
      strategy: "all",
      latestN: 1,
      notifier: "SYSTEM",
      ttln: 86_400_000,
      metadata: {},
      createdAt: t,
      expiresAt: t + 86_400_000,
      status: "delivered",
      retryCount: 1,
      nextAttemptAt: t,
    };
  }

  it("H5: the index holds no values; values are read from SQLite on demand, after a reopen and from old rows too", () => {
    const store = new NotificationStore(ks, () => t);
    const big = "v".repeat(100_000);
    store.save(received("a", "@bob", big));
    store.save(received("b", "@bob", null));
    expect(store.received("a")!.value).to.equal(null);
    expect(store.value(store.received("a")!)).to.equal(big);
    expect(store.value(store.received("b")!)).to.equal(null);
    // A row written before values had their own row.
    ks.put(
      "private:__notification.received.old",
      JSON.stringify(received("old", "@bob", "legacy")),
      {},
      { skipCommit: true },
    );
    const reopened = new NotificationStore(ks, () => t);
    for (const n of reopened.all()) expect(n.value).to.equal(null);
    expect(reopened.value(reopened.received("a")!)).to.equal(big);
    expect(reopened.withValue(reopened.received("old")!).value).to.equal("legacy");
    expect(new NotificationStore(ks, () => t).value(reopened.received("old")!)).to.equal("legacy");
  });

  it("H5: received notifications stay within the quota per sender and in all; the oldest make room, rows too", () => {
    const store = new NotificationStore(ks, () => t, 100_000, {
      perSenderBytes: 200_000,
      totalBytes: 500_000,
    });
    const value = "x".repeat(10_000);
    for (let i = 0; i < 10; i++) store.save(received(`carol${i}`, "@carol", value));
    for (let i = 0; i < 300; i++) store.save(received(`m${i}`, "@mallory", value));
    expect(store.receivedBytes("@mallory")).to.be.at.most(200_000);
    expect(store.received("m299")).to.not.equal(undefined);
    expect(store.received("m0")).to.equal(undefined);
    // Another sender's notifications are not pushed out by one sender's flood.
    for (let i = 0; i < 10; i++) expect(store.received(`carol${i}`)).to.not.equal(undefined);
    for (const who of ["@dave", "@erin", "@frank"])
      for (let i = 0; i < 30; i++) store.save(received(`${who}${i}`, who, value));
    expect(store.receivedBytes()).to.be.at.most(500_000);
    // On disk as well: the dropped ones' rows are gone.
    const rows = [...ks.keys({ regex: /^private:__notificationvalue\./ })];
    expect(rows.length).to.equal(store.all().length);
    expect(rows.length * value.length).to.be.at.most(500_000);
  });
});

describe("atserver floods: a peer's notifications (issue 11 H5)", function () {
  this.timeout(60_000);
  let p: Platform;
  before(async () => {
    p = await startPlatform(["@mallory", "@bob"], {
      overrides: { peerMaxCommandBytes: 65_536, notifyPeerBytesPerMinute: 300_000 },
    });
  });
  after(async () => p.stop());

  function line(key: string, value: string): string {
    return verbs.notify.format({
      id: randomUUID(),
      operation: "update",
      to: "@bob",
      key,
      from: "@mallory",
      value,
    });
  }

  async function pol(): Promise<AtClient> {
    return p.servers["@mallory"]!.outbound!.polClient("@bob");
  }

  it("H5: a peer's notification past --peer-max-command-bytes is refused AT0005 and its connection closed", async () => {
    const link = await pol();
    // The answer may be lost when the server hangs up while the rest still arrives.
    const reply = await link.send(line("big.h5", "b".repeat(100_000))).catch((e: Error) => e);
    if (typeof reply === "string") expect(reply).to.match(/^error:AT0005-/);
    else expect(reply.message).to.equal("connection closed");
    const again = await pol();
    expect(await again.send(line("small.h5", "s"))).to.equal("data:success");
    const bob = await p.owner("@bob");
    const list = await bob.execute("notify:list:h5");
    expect(list).to.include("small.h5@mallory").and.not.include("big.h5");
  });

  it("H5: a peer past --notify-peer-bytes-per-minute gets AT0011 (the reference's throttle error); the owner got those before", async () => {
    const link = await pol();
    const replies: string[] = [];
    for (let i = 0; i < 10; i++)
      replies.push(await link.send(line(`rate${i}.h5`, "r".repeat(40_000))));
    const ok = replies.filter((r) => r === "data:success").length;
    expect(ok).to.be.within(5, 7);
    for (const r of replies.slice(ok)) expect(r).to.match(/^error:AT0011-.*rate limit/);
    const bob = await p.owner("@bob");
    const list = JSON.parse(await bob.execute("notify:list:rate")) as Array<{ value: string }>;
    expect(list.length).to.equal(ok);
    expect(list[0]!.value).to.equal("r".repeat(40_000));
  });
});
