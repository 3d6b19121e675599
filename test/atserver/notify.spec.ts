import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { AtClient, KeyNotFoundError } from "@atplatform/protocol";
import { startServer, type Started } from "./harness";
import { startPlatform, type Platform } from "./federation-harness";

async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("atserver notify: one server (Part B §3.12-3.16, §9)", () => {
  let s: Started;
  let c: AtClient;
  before(async () => {
    s = await startServer();
    c = await s.owner();
  });
  after(async () => s.stop());

  for (const bad of [
    "notify:update:messageType:notifier:system:@bob:k@alice:v",
    "notify:update:strategy:latest:@bob:k@alice:v",
    "notify:messageType:key:update:@bob:k@alice:v",
    "notify:ttlnn:100:@bob:k@alice:v",
    "notify:ttln:@bob:k@alice:v",
    "notify:ttr:100:ttln:100:@bob:k@alice:v",
  ]) {
    it(`${bad} → Invalid syntax`, async () => {
      expect(await c.send(bad)).to.match(/^error:AT0003-Invalid syntax/);
    });
  }

  it("self notify → id; status delivered; notify:list has key, value null, operation update; with a value", async () => {
    const id = randomUUID().slice(0, 8);
    const nid = await c.execute(`notify:update:@alice:nottrkey-${id}@alice`);
    expect(nid).to.match(/^[\w-]+$/);
    expect(await c.execute(`notify:status:${nid}`)).to.equal("delivered");
    const list = await c.execute("notify:list:nottrkey");
    expect(list).to.include(
      `"key":"@alice:nottrkey-${id}@alice","value":null,"operation":"update"`,
    );
    await c.execute(`notify:update:@alice:nottrkey-v-${id}@alice:no-ttr`);
    expect(await c.execute(`notify:list:nottrkey-v-${id}`)).to.include('"value":"no-ttr"');
  });

  it("notify:fetch shape; later notifications have later dates; unknown id → expired", async () => {
    const a = await c.execute("notify:update:@alice:fetch.one@alice");
    await new Promise((r) => setTimeout(r, 5));
    const b = await c.execute("notify:update:@alice:fetch.two@alice");
    const fa = JSON.parse(await c.execute(`notify:fetch:${a}`));
    const fb = JSON.parse(await c.execute(`notify:fetch:${b}`));
    expect(fa).to.include({
      id: a,
      fromAtSign: "@alice",
      toAtSign: "@alice",
      type: "NotificationType.received",
      messageType: "MessageType.key",
      priority: "NotificationPriority.low",
      retryCount: "1",
      strategy: "all",
    });
    expect(fb.notificationDateTime > fa.notificationDateTime).to.equal(true);
    expect(JSON.parse(await c.execute("notify:fetch:124-abc"))).to.deep.equal({
      id: "124-abc",
      notificationStatus: "NotificationStatus.expired",
    });
  });

  it('notify:fetch: the reference\'s field order, every value a string, atMetadata as Dart map text, a missing value as "null"', async () => {
    const id = await c.execute("notify:update:ttl:60000:@alice:fetch.meta@alice");
    const text = await c.execute(`notify:fetch:${id}`);
    const f = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(f)).to.deep.equal([
      "id",
      "fromAtSign",
      "notificationDateTime",
      "toAtSign",
      "notification",
      "type",
      "opType",
      "messageType",
      "priority",
      "notificationStatus",
      "retryCount",
      "strategy",
      "depth",
      "notifier",
      "expiresAt",
      "atValue",
      "atMetadata",
      "ttl",
    ]);
    for (const v of Object.values(f)) expect(v).to.be.a("string");
    expect(f).to.include({
      notification: "@alice:fetch.meta@alice",
      opType: "OperationType.update",
      notificationStatus: "NotificationStatus.delivered",
      depth: "1",
      notifier: "SYSTEM",
      atValue: "null",
    });
    const at = f.notificationDateTime as string;
    expect(at).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    const plus = (ms: number) =>
      new Date(Date.parse(at.replace(" ", "T")) + ms).toISOString().replace("T", " ");
    expect(f.atMetadata).to.equal(
      `{createdBy: null, updatedBy: null, createdAt: ${at}, updatedAt: ${at}, ` +
        `availableAt: null, expiresAt: ${plus(60_000)}, refreshAt: null, status: null, ` +
        "version: null, ttl: 60000, ttb: null, ttr: null, ccd: null, isBinary: null, " +
        "isEncrypted: true, dataSignature: null, sharedKeyEnc: null, pubKeyCS: null, " +
        "encoding: null, encKeyName: null, encAlgo: null, ivNonce: null, skeEncKeyName: null, " +
        "skeEncAlgo: null}",
    );
  });

  it("notify:remove → success (also for unknown ids); status then null", async () => {
    const id = await c.execute("notify:update:@alice:remove.me@alice");
    expect(await c.execute(`notify:remove:${id}`)).to.equal("success");
    expect(await c.execute("notify:remove:never-there")).to.equal("success");
    expect(await c.execute(`notify:status:${id}`)).to.equal("null");
  });

  it("a notification is expired after its ttln; unauthenticated notify:list is empty", async () => {
    const id = await c.execute("notify:update:ttln:1:@alice:short.lived@alice");
    await new Promise((r) => setTimeout(r, 20));
    expect(await c.execute(`notify:status:${id}`)).to.equal("expired");
    const anon = await s.client();
    expect(await anon.execute("notify:list")).to.equal("null");
    expect(await anon.send("notify:update:@alice:x@alice")).to.match(/^error:AT0401/);
  });

  it("stats:11 counts: a self notify increments type.received and operations.update", async () => {
    const counts = async () =>
      JSON.parse(JSON.parse((await c.execute("stats:11")).trim())[0].value);
    const before = await counts();
    await c.execute("notify:update:@alice:counted@alice");
    const after = await counts();
    expect(after.type.received).to.equal(before.type.received + 1);
    expect(after.operations.update).to.equal(before.operations.update + 1);
  });

  it("a notification as another atSign → AT0009", async () => {
    expect(await c.send("notify:update:@alice:k@mallory")).to.match(/^error:AT0009-/);
  });
});

describe("atserver notify: between two atServers (Part A 10, Part B §6, §9)", function () {
  this.timeout(30_000);
  let p: Platform;
  let alice: AtClient;
  let bob: AtClient;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"]);
    alice = await p.owner("@alice");
    bob = await p.owner("@bob");
  });
  after(async () => p.stop());

  it("Part A 10: alice's notify arrives on bob's monitor as one notification: line without a prompt", async () => {
    const mon = await p.owner("@bob");
    mon.monitor(".*");
    const chunks: string[] = [];
    (mon as unknown as { socket: { on(e: string, f: (d: string) => void): void } }).socket.on(
      "data",
      (d) => chunks.push(String(d)),
    );
    const id = randomUUID();
    const got = mon.nextNotification((n) => n.id === id);
    expect(
      await alice.execute(
        `notify:id:${id}:update:isEncrypted:true:ivNonce:M+eMa0YUAcmeRVosCpyqpQ==:@bob:note.ns@alice:Q2lwaGVy`,
      ),
    ).to.equal(id);
    const n = await got;
    expect(n).to.include({
      id,
      from: "@alice",
      to: "@bob",
      key: "@bob:note.ns@alice",
      value: "Q2lwaGVy",
      operation: "update",
      messageType: "MessageType.key",
      isEncrypted: true,
    });
    expect(n.epochMillis).to.be.a("number");
    expect(n.metadata).to.include({ ivNonce: "M+eMa0YUAcmeRVosCpyqpQ==" });
    const line = chunks
      .join("")
      .split("\n")
      .find((l) => l.includes(id))!;
    expect(line.startsWith("notification: {")).to.equal(true);
    expect(chunks.join("")).to.not.match(/\n@bob@/);
    expect(
      await until(
        () => alice.execute(`notify:status:${id}`),
        (v) => v === "delivered",
      ),
    ).to.equal("delivered");
  });

  it("the client streams monitor notifications as an async iterator", async () => {
    const mon = await p.owner("@bob");
    mon.monitor("stream\\.k");
    const stream = mon.notifications();
    await alice.execute("notify:update:@bob:stream.k@alice:one");
    await alice.execute("notify:update:@bob:stream.k@alice:two");
    const got: string[] = [];
    for await (const n of stream) {
      if (n.id === "-1") continue; // stats notifications are not regex-filtered
      got.push(n.value!);
      if (got.length === 2) break;
    }
    expect(got).to.deep.equal(["one", "two"]);
  });

  it("notify with messageType key, notifier, ttr:-1 → delivered; bob's notify:list has it; alice's fetch says sent+delivered", async () => {
    const nid = await alice.execute(
      "notify:update:messageType:key:notifier:system:ttr:-1:@bob:email@alice:alice@example.com",
    );
    await until(
      () => alice.execute(`notify:status:${nid}`),
      (v) => v === "delivered",
    );
    expect(await bob.execute("notify:list")).to.include(
      '"key":"@bob:email@alice","value":"alice@example.com","operation":"update"',
    );
    const f = JSON.parse(await alice.execute(`notify:fetch:${nid}`));
    expect(f).to.include({
      type: "NotificationType.sent",
      notificationStatus: "NotificationStatus.delivered",
    });
    expect(await bob.execute("llookup:cached:@bob:email@alice")).to.equal("alice@example.com");
  });

  it("variants deliver: plain, text (key @bob:Hello!), delete, values with spaces", async () => {
    const ids = [
      await alice.execute("notify:@bob:plain.k@alice:plain value"),
      await alice.execute("notify:update:messageType:text:@bob:Hello!"),
      await alice.execute("notify:update:messageType:text:notifier:chat:@bob:Hi chat"),
      await alice.execute("notify:delete:@bob:gone.k@alice"),
    ];
    for (const id of ids)
      await until(
        () => alice.execute(`notify:status:${id}`),
        (v) => v === "delivered",
      );
    const list = await bob.execute("notify:list");
    expect(list).to.include('"key":"@bob:plain.k@alice","value":"plain value"');
    expect(list).to.include('"key":"@bob:Hello!","value":null');
    expect(list).to.include('"key":"@bob:gone.k@alice","value":null,"operation":"delete"');
  });

  it("ttr + ccd:true caches on bob; notify:delete removes the cached copy; ccd:false keeps it", async () => {
    let id = await alice.execute("notify:update:ttr:10000:ccd:true:@bob:ccd.k@alice:v1");
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "delivered",
    );
    expect(await bob.execute("llookup:cached:@bob:ccd.k@alice")).to.equal("v1");
    id = await alice.execute("notify:delete:@bob:ccd.k@alice");
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "delivered",
    );
    expect(
      await bob.execute("llookup:cached:@bob:ccd.k@alice").catch((e: unknown) => e),
    ).to.be.instanceOf(KeyNotFoundError);
    id = await alice.execute("notify:update:ttr:10000:ccd:false:@bob:keep.k@alice:v2");
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "delivered",
    );
    id = await alice.execute("notify:delete:@bob:keep.k@alice");
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "delivered",
    );
    expect(await bob.execute("llookup:cached:@bob:keep.k@alice")).to.equal("v2");
  });

  it("encryption metadata appears in bob's llookup:all:cached:… (sharedKeyEnc, pubKeyCS, enc fields)", async () => {
    const id = await alice.execute(
      "notify:update:ttr:60000:sharedKeyEnc:abc:pubKeyCS:3c55:encKeyName:ek:encAlgo:AES/CTR/PKCS7Padding:ivNonce:aXY=:skeEncKeyName:sk:skeEncAlgo:RSA:@bob:phone.wavi@alice:cipher",
    );
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "delivered",
    );
    const all = JSON.parse(await bob.execute("llookup:all:cached:@bob:phone.wavi@alice"));
    expect(all.key).to.equal("cached:@bob:phone.wavi@alice");
    expect(all.data).to.equal("cipher");
    expect(all.metaData).to.include({
      sharedKeyEnc: "abc",
      pubKeyCS: "3c55",
      encKeyName: "ek",
      encAlgo: "AES/CTR/PKCS7Padding",
      ivNonce: "aXY=",
      skeEncKeyName: "sk",
      skeEncAlgo: "RSA",
      ttr: 60000,
    });
  });

  it("updating/deleting a shared key notifies the other atSign automatically", async () => {
    const mon = await p.owner("@bob");
    mon.monitor("auto\\.k");
    const upd = mon.nextNotification(
      (n) => n.key === "@bob:auto.k@alice" && n.operation === "update",
    );
    await alice.execute("update:ttr:-1:@bob:auto.k@alice auto-value");
    expect((await upd).value).to.equal("auto-value");
    const del = mon.nextNotification(
      (n) => n.key === "@bob:auto.k@alice" && n.operation === "delete",
    );
    await alice.execute("delete:@bob:auto.k@alice");
    await del;
  });

  it("5 notifications, then monitor:<epoch> <regex> replays all 5 (and monitor:0 replays from the start)", async () => {
    const epoch = Date.now() - 1;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(await alice.execute(`notify:update:@bob:e2e${i}.monitor.e2etest@alice:v${i}`));
    for (const id of ids)
      await until(
        () => alice.execute(`notify:status:${id}`),
        (v) => v === "delivered",
      );
    const mon = await p.owner("@bob");
    const seen: string[] = [];
    mon.on("notification", (n: { id: string }) => seen.push(n.id));
    mon.monitor("monitor.e2etest", epoch);
    await until(
      async () => seen.length,
      (n) => n >= 5,
      5000,
    );
    expect(seen).to.deep.equal(ids);
    const zero = await p.owner("@bob");
    const fromZero: string[] = [];
    zero.on("notification", (n: { id: string }) => fromZero.push(n.id));
    zero.monitor(".*", 0);
    await until(
      async () => fromZero.length,
      (n) => n >= 5,
      5000,
    );
    expect(fromZero).to.include.members(ids);
  });

  it("stats:11: a sent notify counts sent, delivered and messageType (key/text); an unknown recipient counts failed", async () => {
    const counts = async () =>
      JSON.parse(JSON.parse((await alice.execute("stats:11")).trim())[0].value);
    const before = await counts();
    const k = await alice.execute("notify:update:@bob:counted.k@alice:v");
    const t = await alice.execute("notify:update:messageType:text:@bob:counted text");
    for (const id of [k, t])
      await until(
        () => alice.execute(`notify:status:${id}`),
        (v) => v === "delivered",
      );
    const x = await alice.execute("notify:update:@xxx:counted.x@alice:v");
    await until(
      () => alice.execute(`notify:status:${x}`),
      (v) => v === "errored",
      5000,
    );
    const after = await counts();
    expect(after.type.sent).to.equal(before.type.sent + 3);
    expect(after.status.delivered).to.equal(before.status.delivered + 2);
    expect(after.messageType.key).to.equal(before.messageType.key + 2);
    expect(after.messageType.text).to.equal(before.messageType.text + 1);
    expect(after.status.failed).to.equal(before.status.failed + 1);
  });

  it("priority:high and priority:medium notifications are delivered; fetch shows the priority", async () => {
    const hi = await alice.execute("notify:update:priority:high:@bob:prio.hi@alice:h");
    const mid = await alice.execute("notify:update:priority:medium:@bob:prio.mid@alice:m");
    for (const id of [hi, mid])
      await until(
        () => alice.execute(`notify:status:${id}`),
        (v) => v === "delivered",
      );
    expect(JSON.parse(await alice.execute(`notify:fetch:${hi}`)).priority).to.equal(
      "NotificationPriority.high",
    );
    expect(JSON.parse(await alice.execute(`notify:fetch:${mid}`))).to.include({
      priority: "NotificationPriority.medium",
      retryCount: "1",
    });
  });

  it("notify:all:@bob:whatsapp@alice:+91-… → bob lists @bob:whatsapp@alice", async () => {
    const ids = JSON.parse((await alice.execute("notify:all:@bob:whatsapp@alice:+91-9999")).trim());
    await until(
      () => alice.execute(`notify:status:${ids["@bob"]}`),
      (v) => v === "delivered",
    );
    expect(await bob.execute("notify:list:whatsapp")).to.include('"key":"@bob:whatsapp@alice"');
  });

  it("notify to an atSign the directory does not know ends errored, then expired", async () => {
    const id = await alice.execute("notify:update:ttln:1500:@nobody:k@alice:v");
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "errored",
      5000,
    );
    await until(
      () => alice.execute(`notify:status:${id}`),
      (v) => v === "expired",
      5000,
    );
  });
});
