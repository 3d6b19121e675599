import { expect } from "chai";
import { AtClient, generateRsaKeyPair, signPkam } from "@atplatform/protocol";
import { startServer, type Started } from "./harness";

const apkam = generateRsaKeyPair();

function request(app: string, device: string, extra: Record<string, unknown> = {}): string {
  return `enroll:request:${JSON.stringify({
    appName: app,
    deviceName: device,
    namespaces: { wavi: "rw", buzz: "r" },
    apkamPublicKey: apkam.publicKey,
    encryptedAPKAMSymmetricKey: "ENC-APKAM-SYM",
    encryptedDefaultEncryptionPrivateKey: "ENC-PRIV",
    encryptedDefaultSelfEncryptionKey: "ENC-SELF",
    ...extra,
  })}`;
}

const keysJson = (id: string) =>
  JSON.stringify({
    enrollmentId: id,
    encryptedDefaultEncryptionPrivateKey: "ENC-PRIV",
    encryptedDefaultSelfEncryptionKey: "ENC-SELF",
  });

async function apkamLogin(c: AtClient, id: string): Promise<string> {
  const ch = await c.from();
  return c.send(`pkam:enrollmentId:${id}:${signPkam(apkam.privateKey, ch)}`);
}

describe("atserver APKAM: enroll / otp / enrollment-authenticated connections (Part B §3.26-3.27, §5.4, §9)", function () {
  this.timeout(20_000);
  let s: Started;
  let cram: AtClient;
  before(async () => {
    s = await startServer({ testingMode: true });
    cram = await s.owner();
  });
  after(async () => s.stop());

  async function pendingEnrollment(
    app: string,
    device: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const code = await cram.execute("otp:get");
    expect(code)
      .to.match(/^[A-NP-Z1-9]{6,}$/)
      .and.match(/\d/);
    const anon = await s.client();
    const r = JSON.parse(await anon.execute(request(app, device, { otp: code, ...extra })));
    expect(r.status).to.equal("pending");
    return r.enrollmentId;
  }

  it("a CRAM connection's request is approved at once with __manage and * added", async () => {
    const c = await s.owner();
    const r = JSON.parse(await c.execute(request("wavi", "cramdevice")));
    expect(r.status).to.equal("approved");
    const f = JSON.parse(
      await c.execute(`enroll:fetch:${JSON.stringify({ enrollmentId: r.enrollmentId })}`),
    );
    expect(f.namespace).to.deep.equal({ wavi: "rw", buzz: "r", __manage: "rw", "*": "rw" });
    // The APKAM-authenticated scan of such an enrollment lists __manage keys.
    const a = await s.client();
    expect(await apkamLogin(a, r.enrollmentId)).to.equal("data:success");
    expect(await a.execute("scan")).to.include("__manage");
  });

  it("unauthenticated approve/deny/revoke/delete → AT0401 Cannot <op> enrollment without authentication", async () => {
    const anon = await s.client();
    for (const op of ["approve", "deny", "revoke", "delete"]) {
      expect(await anon.send(`enroll:${op}:{"enrollmentId":"x"}`)).to.equal(
        `error:AT0401-Exception: Cannot ${op} enrollment without authentication`,
      );
    }
  });

  it("approve/deny of an unknown id → error:AT0028:enrollment_id: <id> is expired or invalid", async () => {
    for (const op of ["approve", "deny"]) {
      expect(await cram.send(`enroll:${op}:${keysJson("nope-1")}`)).to.equal(
        "error:AT0028:enrollment_id: nope-1 is expired or invalid",
      );
    }
  });

  it("an unauthenticated request without or with a bad otp → invalid otp. Cannot process enroll request", async () => {
    const anon = await s.client();
    expect(await anon.send(request("wavi", "badotp", { otp: "ZZZZZ9" }))).to.include(
      "invalid otp. Cannot process enroll request",
    );
  });

  it("otp + request → pending (self notification on monitor:selfNotifications); approve → approved; APKAM pkam succeeds; keys stored", async () => {
    const mon = await s.owner();
    mon.monitor(".*", undefined, { selfNotifications: true });
    const seen = mon.nextNotification((n) => n.key.includes(".new.enrollments.__manage"));
    const id = await pendingEnrollment("wavi", "phone1");
    const n = await seen;
    expect(n.key).to.include(`${id}.new.enrollments.__manage`);
    expect(JSON.parse(n.value!)).to.include({
      appName: "wavi",
      deviceName: "phone1",
      encryptedApkamSymmetricKey: "ENC-APKAM-SYM",
      encryptedAPKAMSymmetricKey: "ENC-APKAM-SYM",
    });
    const c0 = await s.client();
    expect(await apkamLogin(c0, id)).to.equal(`error:AT0026:enrollment_id: ${id} is pending`);
    expect(JSON.parse(await cram.execute(`enroll:approve:${keysJson(id)}`))).to.deep.equal({
      status: "approved",
      enrollmentId: id,
    });
    const c = await s.client();
    expect(await apkamLogin(c, id)).to.equal("data:success");
    expect(
      JSON.parse(await cram.execute("llookup:public:wavi.phone1.pkam.__pkams.__public_keys@alice")),
    ).to.deep.equal({ apkamPublicKey: apkam.publicKey });
    expect(
      JSON.parse(await cram.execute(`llookup:${id}.default_self_enc_key.__manage@alice`)),
    ).to.deep.equal({ value: "ENC-SELF" });
  });

  it("deny → denied, and pkam with it → error:AT0025:enrollment_id: <id> is denied", async () => {
    const id = await pendingEnrollment("wavi", "denied-dev");
    expect(
      JSON.parse(await cram.execute(`enroll:deny:${JSON.stringify({ enrollmentId: id })}`)).status,
    ).to.equal("denied");
    expect(await apkamLogin(await s.client(), id)).to.equal(
      `error:AT0025:enrollment_id: ${id} is denied`,
    );
  });

  it("a wavi(rw)/buzz(r) connection: own namespace OK, others AT0009, enrollment records hidden", async () => {
    const id = await pendingEnrollment("wavi", "ns-dev");
    await cram.execute(`enroll:approve:${keysJson(id)}`);
    await cram.execute("update:phone.atmosphere@alice other");
    await cram.execute("update:pic.buzz@alice buzzpic");
    const c = await s.client();
    await apkamLogin(c, id);
    expect(await c.execute("update:phone.wavi@alice 123")).to.match(/^\d+$/);
    expect(await c.execute("llookup:phone.wavi@alice")).to.equal("123");
    expect(await c.execute("llookup:pic.buzz@alice")).to.equal("buzzpic");
    expect(await c.send("update:pic.buzz@alice x")).to.match(
      /^error:AT0009-.*not authorized to update key: pic.buzz@alice/,
    );
    expect(await c.send("llookup:phone.atmosphere@alice")).to.equal(
      `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to llookup key: phone.atmosphere@alice`,
    );
    expect(await c.send("delete:phone.atmosphere@alice")).to.match(/not authorized to delete key/);
    expect(await c.send(`llookup:${id}.new.enrollments.__manage@alice`)).to.include(
      `Connection with enrollment ID ${id} is not authorized to llookup key: ${id}.new.enrollments.__manage@alice`,
    );
    expect(await c.execute("delete:phone.wavi@alice")).to.match(/^\d+$/);
    expect(JSON.parse(await c.execute("scan"))).to.not.include("phone.atmosphere@alice");
  });

  it("info on an APKAM connection carries apkam_metadata; keys:put/get/delete; keys without an enrollment", async () => {
    const id = await pendingEnrollment("wavi", "keys-dev");
    await cram.execute(`enroll:approve:${keysJson(id)}`);
    const c = await s.client();
    await apkamLogin(c, id);
    const info = JSON.parse(await c.execute("info"));
    expect(info.apkam_metadata).to.include({
      appName: "wavi",
      deviceName: "keys-dev",
      apkamPublicKey: apkam.publicKey,
    });
    expect(info.apkam_metadata.namespaces).to.deep.equal({ wavi: "rw", buzz: "r" });
    expect(info.apkam_metadata.sessionId).to.be.a("string");
    expect(
      await c.execute(
        `keys:put:public:namespace:__global:keyType:rsa2048:keyName:encryption_${id} MIIBpub`,
      ),
    ).to.equal("-1");
    expect(
      await c.execute(
        "keys:put:self:namespace:__global:appName:wavi:deviceName:d1:keyType:aes256:keyName:mykey SELFVALUE",
      ),
    ).to.equal("-1");
    const pub = `public:encryption_${id}.__public_keys.__global@alice`;
    expect(JSON.parse(await c.execute(`keys:get:keyName:${pub}`))).to.deep.equal({
      value: "MIIBpub",
      keyType: "rsa2048",
      enrollmentId: id,
      encryptionKeyName: null,
    });
    const selfList = JSON.parse(await c.execute("keys:get:self")) as string[];
    expect(selfList).to.include.members([
      "wavi.d1.mykey.__self_keys.__global@alice",
      `${id}.default_self_enc_key.__manage@alice`,
    ]);
    expect(JSON.parse(await c.execute("keys:get:private"))).to.include(
      `${id}.default_enc_private_key.__manage@alice`,
    );
    expect(
      await c.execute(`keys:get:keyName:${id}.default_enc_private_key.__manage@alice`),
    ).to.include("ENC-PRIV");
    expect(await c.execute(`keys:delete:keyName:${pub}`)).to.equal("-1");
    expect(await cram.send("keys:get:self")).to.match(
      /^error:AT0011-.*Keys verb cannot be accessed without an enrollmentId/,
    );
    const anon = await s.client();
    expect(await anon.send("keys:get:self")).to.equal(
      "error:AT0401-Exception: Command cannot be executed without auth",
    );
  });

  it("sync:from on a wavi(rw)/buzz(r) connection lists only its namespaces, in commit order", async () => {
    const id = await pendingEnrollment("wavi", "sync-dev");
    await cram.execute(`enroll:approve:${keysJson(id)}`);
    const c = await s.client();
    await apkamLogin(c, id);
    const before = Number(await cram.execute("update:public:sync.marker@alice m"));
    const a = Number(await cram.execute("update:s1.wavi@alice 1"));
    const b = Number(await cram.execute("update:s2.buzz@alice 2"));
    await cram.execute("update:s3.atmosphere@alice 3");
    const entries = JSON.parse(await c.execute(`sync:from:${before}:limit:10`)) as Array<{
      atKey: string;
      commitId: number;
    }>;
    expect(entries.map((e) => [e.atKey, e.commitId])).to.deep.equal([
      ["s1.wavi@alice", a],
      ["s2.buzz@alice", b],
    ]);
  });

  it("enroll:list shows records (with a status filter)", async () => {
    const id = await pendingEnrollment("wavi", "listed-dev");
    const all = JSON.parse(await cram.execute("enroll:list"));
    const key = `${id}.new.enrollments.__manage@alice`;
    expect(all[key]).to.include({
      appName: "wavi",
      deviceName: "listed-dev",
      encryptedAPKAMSymmetricKey: "ENC-APKAM-SYM",
    });
    expect(all[key].namespace.wavi).to.equal("rw");
    const pending = JSON.parse(
      await cram.execute('enroll:list:{"enrollmentStatusFilter":["pending"]}'),
    );
    expect(
      Object.values(pending).every((r) => (r as { status: string }).status === "pending"),
    ).to.equal(true);
    expect(pending).to.have.property(key);
    const approved = JSON.parse(
      await cram.execute('enroll:list:{"enrollmentStatusFilter":["approved"]}'),
    );
    expect(approved).to.not.have.property(key);
  });

  it("otp:put sets a semi-permanent passcode; a duplicate app/device request → AT0011 Another enrollment…", async () => {
    expect(await cram.execute("otp:put:ABC123")).to.equal("ok");
    const anon = await s.client();
    const r = JSON.parse(await anon.execute(request("dup", "dev", { otp: "abc123" })));
    await cram.execute(`enroll:approve:${keysJson(r.enrollmentId)}`);
    const again = await s.client();
    expect(await again.send(request("dup", "dev", { otp: "ABC123" }))).to.equal(
      `error:AT0011-Exception: Another enrollment with id ${r.enrollmentId} exists with the app name: dup and device name: dev in approved state`,
    );
  });

  it("revoking one's own enrollment needs :force (AT0031); then the connection answers AT0027 and pkam says revoked; unrevoke restores", async () => {
    const id = await pendingEnrollment("wavi", "revoke-dev");
    await cram.execute(`enroll:approve:${keysJson(id)}`);
    const self = await s.client();
    await apkamLogin(self, id);
    const body = JSON.stringify({ enrollmentId: id });
    expect(await self.send(`enroll:revoke:${body}`)).to.match(
      /^error:AT0031-Cannot revoke self enrollment : Current client cannot revoke its own enrollment/,
    );
    expect(JSON.parse(await self.execute(`enroll:revoke:force:${body}`))).to.deep.equal({
      status: "revoked",
      enrollmentId: id,
      message: "Enrollment is revoked. Closing the connection in 10 seconds",
    });
    // Until the (10 s) close, the revoked connection answers every command AT0027.
    expect(await self.send("noop:0")).to.equal(`error:AT0027:enrollment_id: ${id} is revoked`);
    expect(await apkamLogin(await s.client(), id)).to.include(`enrollment_id: ${id} is revoked`);
    expect(JSON.parse(await cram.execute(`enroll:unrevoke:${body}`)).status).to.equal("approved");
    expect(await apkamLogin(await s.client(), id)).to.equal("data:success");
  });

  it("state machine violations → AT0011 Failed to <op> enrollment id…", async () => {
    const pending = await pendingEnrollment("wavi", "sm-dev");
    expect(
      await cram.send(`enroll:revoke:${JSON.stringify({ enrollmentId: pending })}`),
    ).to.include(`Failed to revoke enrollment id: ${pending}. Cannot revoke a pending enrollment`);
    expect(
      await cram.send(`enroll:delete:${JSON.stringify({ enrollmentId: pending })}`),
    ).to.include(
      `Failed to delete enrollment id: ${pending} | Cause: Cannot delete pending enrollments. Only denied and revoked enrollments can be deleted`,
    );
    await cram.execute(`enroll:deny:${JSON.stringify({ enrollmentId: pending })}`);
    expect(await cram.send(`enroll:approve:${keysJson(pending)}`)).to.include(
      "Cannot approve a denied enrollment",
    );
    expect(
      JSON.parse(await cram.execute(`enroll:delete:${JSON.stringify({ enrollmentId: pending })}`))
        .status,
    ).to.equal("deleted");
  });

  it("expired APKAM keys (apkamKeysExpiryInMillis:1) → error:AT0028:… is expired or invalid", async () => {
    const id = await pendingEnrollment("wavi", "short-dev", { apkamKeysExpiryInMillis: 1 });
    await cram.execute(`enroll:approve:${keysJson(id)}`);
    await new Promise((r) => setTimeout(r, 10));
    expect(await apkamLogin(await s.client(), id)).to.equal(
      `error:AT0028:enrollment_id: ${id} is expired or invalid`,
    );
  });

  it("rate limit per connection (maxRequestsPerTimeFrame=1, timeFrameInMills=100)", async () => {
    await cram.execute("config:set:maxRequestsPerTimeFrame=1");
    await cram.execute("config:set:timeFrameInMills=100");
    try {
      const c = await s.owner();
      await c.execute(request("rate", "d1"));
      expect(await c.send(request("rate", "d2"))).to.include(
        "Enrollment requests have exceeded the limit within the specified time frame",
      );
      await new Promise((r) => setTimeout(r, 110));
      expect(JSON.parse(await c.execute(request("rate", "d3"))).status).to.equal("approved");
    } finally {
      await cram.execute("config:reset:maxRequestsPerTimeFrame");
      await cram.execute("config:reset:timeFrameInMills");
    }
  });
});
