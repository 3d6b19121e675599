// APKAM connection lifecycle and namespace rules (Part B §5.4, §9): revocation and key expiry
// end live connections at once; every __manage / namespace rule with an allowed and a refused
// case, checked as exact wire lines. Real TLS, a real in-process AtServer.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import pino from "pino";
import { AtClient, generateRsaKeyPair, signPkam } from "@atplatform/protocol";
import { AtServer, resolveConfig } from "@atplatform/atserver";
import { testTls, type TestTls } from "../support/test-ca";
import { RawConn, SECRET, tempDir } from "./harness";

const apkam = generateRsaKeyPair();
const SELF_REVOKE_CLOSE_MS = 200;

interface Setup {
  server: AtServer;
  tls: TestTls;
  dir: string;
  clients: AtClient[];
}

async function start(): Promise<Setup> {
  const tls = await testTls();
  const dir = tempDir();
  writeFileSync(join(dir, "secret"), SECRET);
  const cfg = resolveConfig(
    {
      atSign: "@alice",
      port: "0",
      host: "127.0.0.1",
      cert: tls.files.cert,
      key: tls.files.key,
      storage: join(dir, "store"),
      cramSecretFile: join(dir, "secret"),
    },
    {},
  );
  const server = AtServer.create(cfg, {
    logger: pino({ level: "silent" }),
    selfRevokeCloseMs: SELF_REVOKE_CLOSE_MS,
  });
  await server.start();
  await server.settled();
  return { server, tls, dir, clients: [] };
}

const enrollJson = (app: string, device: string, namespaces: Record<string, string>, extra = {}) =>
  JSON.stringify({
    appName: app,
    deviceName: device,
    namespaces,
    apkamPublicKey: apkam.publicKey,
    encryptedAPKAMSymmetricKey: "ENC-APKAM-SYM",
    ...extra,
  });

const approveJson = (id: string) =>
  JSON.stringify({
    enrollmentId: id,
    encryptedDefaultEncryptionPrivateKey: "ENC-PRIV",
    encryptedDefaultSelfEncryptionKey: "ENC-SELF",
  });

const denied = (id: string, verb: string, key: string) =>
  `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to ${verb} key: ${key}`;

describe("atserver APKAM lifecycle: revocation and expiry close live connections; §5.4 namespace rules", function () {
  this.timeout(10_000);
  let s: Setup;
  let cram: AtClient;
  let device = 0;

  before(async () => {
    s = await start();
    cram = await client();
    await cram.cram(SECRET);
  });
  after(async () => {
    for (const c of s.clients) c.destroy();
    await s.server.stop();
    rmSync(s.dir, { recursive: true, force: true });
  });

  async function client(): Promise<AtClient> {
    const c = await AtClient.connect({
      host: "127.0.0.1",
      port: s.server.port,
      ca: s.tls.ca,
      atSign: "@alice",
      timeoutMs: 3000,
    });
    s.clients.push(c);
    return c;
  }

  /** otp + unauthenticated request → pending id. */
  async function pending(namespaces: Record<string, string>, extra = {}): Promise<string> {
    const otp = await cram.execute("otp:get");
    const anon = await client();
    const r = JSON.parse(
      await anon.execute(
        `enroll:request:${enrollJson("app", `d${device++}`, namespaces, { otp, ...extra })}`,
      ),
    ) as { enrollmentId: string; status: string };
    expect(r.status).to.equal("pending");
    anon.destroy();
    return r.enrollmentId;
  }

  async function approved(namespaces: Record<string, string>, extra = {}): Promise<string> {
    const id = await pending(namespaces, extra);
    await cram.execute(`enroll:approve:${approveJson(id)}`);
    return id;
  }

  async function login(id: string): Promise<AtClient> {
    const c = await client();
    const ch = await c.from();
    expect(await c.send(`pkam:enrollmentId:${id}:${signPkam(apkam.privateKey, ch)}`)).to.equal(
      "data:success",
    );
    return c;
  }

  /** A raw APKAM connection: records every byte the server sends. */
  async function rawLogin(id: string): Promise<RawConn> {
    const r = await RawConn.open(s.server.port, s.tls.ca);
    await r.until((t) => t === "@");
    r.write("from:@alice\n");
    const text = await r.until((t) => /data:(\S+)\n@$/.test(t));
    const challenge = /data:(\S+)\n@$/.exec(text)![1]!;
    r.write(`pkam:enrollmentId:${id}:${signPkam(apkam.privateKey, challenge)}\n`);
    await r.until((t) => t.endsWith("data:success\n@alice@"));
    return r;
  }

  const closed = (c: AtClient) =>
    new Promise<number>((resolve) => {
      if (c.isClosed) resolve(Date.now());
      else c.once("close", () => resolve(Date.now()));
    });

  describe("revocation and expiry", () => {
    it("enroll:revoke by another connection closes the enrollment's connections and monitors at once, without a reply", async () => {
      const id = await approved({ wavi: "rw" });
      const raw = await rawLogin(id);
      const before = raw.text;
      const mon = await login(id);
      mon.monitor(".*");
      await mon.send("noop:0");
      const monClosed = closed(mon);
      const rawClosed = new Promise<number>((r) => raw.socket.once("close", () => r(Date.now())));
      const other = await login(await approved({ wavi: "rw" }));
      const t0 = Date.now();
      expect(await cram.send(`enroll:revoke:${JSON.stringify({ enrollmentId: id })}`)).to.equal(
        `data:{"status":"revoked","enrollmentId":"${id}"}`,
      );
      // Measured from before the revoke was sent (its round trip included): a few ms.
      expect((await rawClosed) - t0).to.be.lessThan(100);
      expect((await monClosed) - t0).to.be.lessThan(100);
      expect(raw.text).to.equal(before);
      // Connections of other enrollments are untouched.
      expect(await other.send("noop:0")).to.equal("data:ok");
    });

    it("enroll:revoke:force of one's own enrollment: the exact reply, AT0027 until the delayed close; other connections close at once", async () => {
      const id = await approved({ wavi: "rw", __manage: "rw" });
      const self = await login(id);
      const sibling = await login(id);
      const siblingClosed = closed(sibling);
      const selfClosed = closed(self);
      const t0 = Date.now();
      expect(
        await self.send(`enroll:revoke:force:${JSON.stringify({ enrollmentId: id })}`),
      ).to.equal(
        `data:{"status":"revoked","enrollmentId":"${id}","message":"Enrollment is revoked. Closing the connection in 10 seconds"}`,
      );
      expect((await siblingClosed) - t0).to.be.lessThan(100);
      expect(await self.send("llookup:phone.wavi@alice")).to.equal(
        `error:AT0027:enrollment_id: ${id} is revoked`,
      );
      const dt = (await selfClosed) - t0;
      expect(dt)
        .to.be.at.least(SELF_REVOKE_CLOSE_MS - 20)
        .and.lessThan(SELF_REVOKE_CLOSE_MS + 150);
    });

    it("a connection whose APKAM keys expire (apkamKeysExpiryInMillis) is closed when they do, monitor included", async () => {
      const id = await approved({ wavi: "rw" }, { apkamKeysExpiryInMillis: 400 });
      const approvedAt = Date.now();
      const c = await login(id);
      const mon = await login(id);
      mon.monitor(".*");
      await mon.send("noop:0");
      const [tc, tm] = await Promise.all([closed(c), closed(mon)]);
      for (const t of [tc, tm]) expect(t - approvedAt).to.be.within(350, 550);
      expect(s.server.enrollmentGuard.armed).to.equal(0);
      expect(await (await client()).send(`pkam:enrollmentId:${id}:x`)).to.equal(
        `error:AT0028:enrollment_id: ${id} is expired or invalid`,
      );
    });

    it("state changes keep the record's expiry: approve clears the 48 h pending TTL, revoke/unrevoke keep apkamKeysExpiryInMillis", async () => {
      const forever = await approved({ wavi: "rw" });
      const key = (id: string) => `${id}.new.enrollments.__manage@alice`;
      const meta = async (id: string) =>
        JSON.parse(await cram.execute(`llookup:meta:${key(id)}`)) as {
          ttl?: number;
          expiresAt?: string;
        };
      const m = await meta(forever);
      expect(m.ttl).to.equal(0);
      expect(m).to.not.have.property("expiresAt");
      const limited = await approved({ wavi: "rw" }, { apkamKeysExpiryInMillis: 60_000 });
      const at = async () => Date.parse((await meta(limited)).expiresAt!.replace(" ", "T"));
      const first = await at();
      expect(first - Date.now()).to.be.within(59_000, 60_000);
      await new Promise((r) => setTimeout(r, 20));
      const body = JSON.stringify({ enrollmentId: limited });
      await cram.execute(`enroll:revoke:${body}`);
      await cram.execute(`enroll:unrevoke:${body}`);
      // Same instant, give or take the millisecond between two clock reads.
      expect(Math.abs((await at()) - first)).to.be.at.most(2);
    });
  });

  describe("§5.4 namespace rules (an enrollment with wavi:rw, buzz:r, orders.app:rw)", () => {
    let id: string;
    let c: AtClient;
    before(async () => {
      id = await approved({ wavi: "rw", buzz: "r", "orders.app": "rw" });
      c = await login(id);
      await cram.execute("update:pic.buzz@alice buzzpic");
      await cram.execute("update:nons@alice nons");
    });

    it("reads need r or rw: llookup in buzz (r) allowed; in atmosphere (none) refused", async () => {
      expect(await c.send("llookup:pic.buzz@alice")).to.equal("data:buzzpic");
      expect(await c.send("llookup:pic.atmosphere@alice")).to.equal(
        denied(id, "llookup", "pic.atmosphere@alice"),
      );
    });

    it("writes need rw: update/delete in wavi allowed; in buzz (r) refused", async () => {
      expect(await c.send("update:phone.wavi@alice 1")).to.match(/^data:\d+$/);
      expect(await c.send("update:pic.buzz@alice x")).to.equal(
        denied(id, "update", "pic.buzz@alice"),
      );
      expect(await c.send("delete:pic.buzz@alice")).to.equal(
        denied(id, "delete", "pic.buzz@alice"),
      );
      expect(await c.send("delete:phone.wavi@alice")).to.match(/^data:\d+$/);
    });

    it("a namespace covers keys ending in .<namespace>: x.orders.app allowed, x.app refused", async () => {
      expect(await c.send("update:x.orders.app@alice 1")).to.match(/^data:\d+$/);
      expect(await c.send("update:x.app@alice 1")).to.equal(denied(id, "update", "x.app@alice"));
    });

    it("keys without a namespace need *", async () => {
      expect(await c.send("llookup:nons@alice")).to.equal(denied(id, "llookup", "nons@alice"));
      const star = await login(await approved({ "*": "rw" }));
      expect(await star.send("llookup:nons@alice")).to.equal("data:nons");
    });

    it("config (block list, settings) needs * like a key without a namespace: r to show, rw to change", async () => {
      const refused = `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to use config`;
      expect(await c.send("config:block:add:@mallory")).to.equal(refused);
      expect(await c.send("config:block:show")).to.equal(refused);
      const reader = await login(await approved({ "*": "r" }));
      expect(await reader.send("config:block:show")).to.match(/^data:/);
      expect(await reader.send("config:block:add:@mallory")).to.match(/^error:AT0009-/);
      const writer = await login(await approved({ "*": "rw" }));
      expect(await writer.send("config:block:add:@mallory")).to.equal("data:success");
      expect(await writer.send("config:block:remove:@mallory")).to.equal("data:success");
    });

    it("the longest covering namespace decides; * only where none covers", async () => {
      const sid = await approved({ "*": "rw", "ro.app": "r" });
      const star = await login(sid);
      expect(await star.send("update:k.other@alice 1")).to.match(/^data:\d+$/);
      expect(await star.send("update:k.ro.app@alice 1")).to.equal(
        denied(sid, "update", "k.ro.app@alice"),
      );
      expect(await star.send("llookup:k.other@alice")).to.equal("data:1");
    });

    it("__manage keys are refused to llookup/update even with * (CRAM-approved enrollment)", async () => {
      const boot = await client();
      await boot.cram(SECRET);
      const r = JSON.parse(
        await boot.execute(
          `enroll:request:${enrollJson("boot", "d", { wavi: "rw" }, { encryptedDefaultEncryptionPrivateKey: "P", encryptedDefaultSelfEncryptionKey: "S" })}`,
        ),
      ) as { enrollmentId: string };
      const full = await login(r.enrollmentId);
      const k = `${id}.new.enrollments.__manage@alice`;
      expect(await full.send(`llookup:${k}`)).to.equal(denied(r.enrollmentId, "llookup", k));
      expect(await full.send("update:x.__manage@alice 1")).to.equal(
        denied(r.enrollmentId, "update", "x.__manage@alice"),
      );
      // Allowed: enroll (with __manage) on the same connection, and the CRAM connection's llookup.
      expect(await full.send("enroll:list")).to.include(k);
      expect(await cram.send(`llookup:${k}`)).to.match(/^data:\{/);
    });

    it("otp:put needs __manage (r is enough); otp:get does not", async () => {
      expect(await c.send("otp:put:ABC999")).to.equal(
        "error:AT0011-Internal server exception : Client not allowed to not store semi permanent pass code",
      );
      expect(await c.send("otp:get")).to.match(/^data:[A-NP-Z1-9]{6,}$/);
      const mgr = await login(await approved({ __manage: "r", wavi: "r" }));
      expect(await mgr.send("otp:put:ABC999")).to.equal("data:ok");
    });

    it("enroll: approving needs __manage covering the requested namespaces at the requested level; list/fetch of others need __manage", async () => {
      const mid = await approved({ __manage: "r", wavi: "r" });
      const mgr = await login(mid);
      const wantsRw = await pending({ wavi: "rw" });
      const wantsR = await pending({ wavi: "r" });
      const refused = (eid: string) =>
        `error:AT0011-Internal server exception : Failed to approve enrollment id: ${eid}. Client is not authorized for namespaces in the enrollment request`;
      // c has no __manage grant at all.
      expect(await c.send(`enroll:approve:${approveJson(wantsR)}`)).to.equal(
        `error:AT0011-Internal server exception : Failed to approve enrollment id: ${wantsR}. The approving enrollment does not have access to "__manage" namespace`,
      );
      expect(await mgr.send(`enroll:approve:${approveJson(wantsRw)}`)).to.equal(refused(wantsRw));
      expect(await mgr.send(`enroll:approve:${approveJson(wantsR)}`)).to.equal(
        `data:{"status":"approved","enrollmentId":"${wantsR}"}`,
      );
      expect(Object.keys(JSON.parse(await c.execute("enroll:list")))).to.deep.equal([
        `${id}.new.enrollments.__manage@alice`,
      ]);
      expect(Object.keys(JSON.parse(await mgr.execute("enroll:list"))).length).to.be.above(2);
      expect(await c.send(`enroll:fetch:{"enrollmentId":"${mid}"}`)).to.equal(
        `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to fetch enrollment id: ${mid}`,
      );
      expect(JSON.parse(await c.execute(`enroll:fetch:{"enrollmentId":"${id}"}`)).status).to.equal(
        "approved",
      );
    });

    it("notify and notify:all write: rw allowed, r refused", async () => {
      expect(await c.send("notify:update:@bob:n.wavi@alice:v")).to.match(/^data:[\w-]+$/);
      expect(await c.send("notify:update:@bob:n.buzz@alice:v")).to.equal(
        denied(id, "notify", "@bob:n.buzz@alice"),
      );
      expect(await c.send("notify:all:update:@bob,@carol:n.wavi@alice:v")).to.match(/^data: \{/);
      expect(await c.send("notify:all:update:@bob,@carol:n.buzz@alice:v")).to.equal(
        denied(id, "notify", "@bob:n.buzz@alice"),
      );
    });

    it("notify:fetch/status (read) and notify:remove (write) check the notification's key", async () => {
      const idOf = async (key: string) => cram.execute(`notify:update:@bob:${key}@alice:v`);
      const buzz = await idOf("f.buzz");
      const atmos = await idOf("f.atmosphere");
      const wavi = await idOf("f.wavi");
      expect(JSON.parse(await c.execute(`notify:fetch:${buzz}`)).id).to.equal(buzz);
      expect(await c.send(`notify:fetch:${atmos}`)).to.equal(
        denied(id, "fetch notify", "@bob:f.atmosphere@alice"),
      );
      expect(await c.send(`notify:status:${buzz}`)).to.match(/^data:\w+$/);
      expect(await c.send(`notify:status:${atmos}`)).to.equal(
        denied(id, "fetch notify", "@bob:f.atmosphere@alice"),
      );
      expect(await c.send(`notify:remove:${buzz}`)).to.equal(
        denied(id, "remove notify", "@bob:f.buzz@alice"),
      );
      expect(await c.send(`notify:remove:${wavi}`)).to.equal("data:success");
    });

    it("notify:list and monitor (live and replay) show only readable keys: __manage self notifications need __manage", async () => {
      const epoch = Date.now() - 1;
      const mgr = await login(await approved({ __manage: "r", wavi: "r" }));
      const monLimited = await login(id);
      const monMgr = await login((await approved({ __manage: "r" })) as string);
      const seenLimited: string[] = [];
      monLimited.on("notification", (n: { key: string }) => seenLimited.push(n.key));
      monLimited.monitor(".*", undefined, { selfNotifications: true });
      monMgr.monitor(".*", undefined, { selfNotifications: true });
      await monLimited.send("noop:0");
      await monMgr.send("noop:0");
      const live = monMgr.nextNotification((n) => n.key.includes(".new.enrollments.__manage"));
      const req = await pending({ wavi: "r" });
      const k = `${req}.new.enrollments.__manage@alice`;
      expect((await live).key).to.equal(k);
      await monLimited.send("noop:0");
      expect(seenLimited.filter((x) => x.includes("__manage"))).to.deep.equal([]);
      // notify:list is not one of otp/enroll/monitor: only the CRAM connection lists __manage
      // notifications, not even a __manage holder.
      expect(await cram.execute("notify:list")).to.include(k);
      expect(await mgr.execute("notify:list")).to.not.include("__manage");
      expect(await c.execute("notify:list")).to.not.include("__manage");
      // Replay from an epoch obeys the same rule.
      const replayLimited = await login(id);
      const replayed: string[] = [];
      replayLimited.on("notification", (n: { key: string }) => replayed.push(n.key));
      replayLimited.monitor(".*", epoch, { selfNotifications: true });
      await replayLimited.send("noop:0");
      expect(replayed.filter((x) => x.includes("__manage"))).to.deep.equal([]);
      const replayMgr = await login((await approved({ __manage: "r" })) as string);
      const got = replayMgr.nextNotification((n) => n.key === k);
      replayMgr.monitor(".*", epoch, { selfNotifications: true });
      expect((await got).key).to.equal(k);
    });

    it("keys:get/delete by keyName reach only key material, and delete only this enrollment's", async () => {
      expect(await c.send("keys:get:keyName:privatekey:at_secret")).to.equal(
        denied(id, "get", "privatekey:at_secret"),
      );
      expect(await c.send("keys:delete:keyName:pic.buzz@alice")).to.equal(
        denied(id, "delete", "pic.buzz@alice"),
      );
      const other = await login(await approved({ wavi: "rw" }));
      await other.execute("keys:put:public:namespace:__global:keyType:rsa2048:keyName:theirs PUB");
      const theirs = "public:theirs.__public_keys.__global@alice";
      expect(JSON.parse(await c.execute(`keys:get:keyName:${theirs}`)).value).to.equal("PUB");
      expect(await c.send(`keys:delete:keyName:${theirs}`)).to.equal(denied(id, "delete", theirs));
      expect(await other.send(`keys:delete:keyName:${theirs}`)).to.equal("data:-1");
      expect(
        await c.send(`keys:get:keyName:${id}.default_enc_private_key.__manage@alice`),
      ).to.include("ENC-PRIV");
    });
  });
});
