// Attacks by a narrow APKAM app on its own atServer (issue 11: C1, M3) and the low-level
// items of the same issue (notify:status before auth, control bytes echoed in error lines,
// unbounded CRAM/PKAM guessing). Real TLS, a real in-process AtServer; one atDirectory and
// two atServers for the cross-atSign lookup.
import { expect } from "chai";
import { AtClient, cramDigest, generateRsaKeyPair, signPkam } from "@atplatform/protocol";
import { RawConn, SECRET, startServer, type Started } from "./harness";
import { startPlatform, type Platform } from "./federation-harness";

const appKeys = generateRsaKeyPair();

function enrollRequest(
  app: string,
  device: string,
  namespaces: Record<string, string>,
  otp?: string,
) {
  return `enroll:request:${JSON.stringify({
    appName: app,
    deviceName: device,
    namespaces,
    apkamPublicKey: appKeys.publicKey,
    encryptedAPKAMSymmetricKey: "ENC-APKAM-SYM",
    encryptedDefaultEncryptionPrivateKey: "ENC-PRIV",
    encryptedDefaultSelfEncryptionKey: "ENC-SELF",
    ...(otp !== undefined ? { otp } : {}),
  })}`;
}

const approveJson = (id: string) =>
  JSON.stringify({
    enrollmentId: id,
    encryptedDefaultEncryptionPrivateKey: "ENC-PRIV",
    encryptedDefaultSelfEncryptionKey: "ENC-SELF",
  });

/** An enrollment with `namespaces`, requested with an OTP and approved by the owner. */
async function enrolled(
  owner: AtClient,
  anon: AtClient,
  device: string,
  namespaces: Record<string, string>,
): Promise<string> {
  const otp = await owner.execute("otp:get");
  const r = JSON.parse(await anon.execute(enrollRequest("app", device, namespaces, otp)));
  await owner.execute(`enroll:approve:${approveJson(r.enrollmentId)}`);
  return r.enrollmentId as string;
}

async function loginApkam(c: AtClient, id: string): Promise<void> {
  const ch = await c.from();
  expect(await c.send(`pkam:enrollmentId:${id}:${signPkam(appKeys.privateKey, ch)}`)).to.equal(
    "data:success",
  );
}

const refused = (id: string, verb: string, key: string) =>
  `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to ${verb} key: ${key}`;

describe("attacks by a narrow APKAM app (issue 11: C1, M3)", function () {
  this.timeout(30_000);
  let s: Started;
  let owner: AtClient;
  let id: string;
  let app: AtClient;

  before(async () => {
    s = await startServer();
    owner = await s.owner();
    await owner.execute("update:public:publickey@alice MIIownerpublic");
    id = await enrolled(owner, await s.client(), "reader", { wavi: "r" });
    app = await s.client();
    await loginApkam(app, id);
  });
  after(async () => s.stop());

  it("C1: a {wavi:r} app cannot read the signing private key", async () => {
    const key = "@alice:signing_privatekey@alice";
    expect(await owner.execute(`llookup:${key}`)).to.match(/^MII/);
    expect(await app.send(`llookup:${key}`)).to.equal(refused(id, "llookup", key));
    expect(await app.send(`llookup:all:${key}`)).to.equal(refused(id, "llookup", key));
    expect(await app.send("lookup:signing_privatekey@alice")).to.equal(refused(id, "lookup", key));
  });

  it("C1: a {wavi:r} app cannot replace the legacy PKAM key and then log in as the owner", async () => {
    const key = "privatekey:at_pkam_publickey";
    expect(await app.send(`update:${key} ${appKeys.publicKey}`)).to.equal(
      refused(id, "update", key),
    );
    const c = await s.client();
    const ch = await c.from();
    expect(await c.send(`pkam:${signPkam(appKeys.privateKey, ch)}`)).to.match(/^error:AT0401-/);
    expect(await owner.send(`llookup:${key}`)).to.not.include(appKeys.publicKey);
  });

  it("C1: a {wavi:r} app cannot overwrite the public keys, or delete the CRAM secret", async () => {
    for (const key of ["public:publickey@alice", "public:signing_publickey@alice"]) {
      expect(await app.send(`update:${key} MIIforged`)).to.equal(refused(id, "update", key));
      // Public halves stay readable: anyone may look them up anyway.
      expect(await app.execute(`llookup:${key}`)).to.match(/^MII/);
    }
    expect(await app.send("delete:privatekey:at_secret")).to.equal(
      refused(id, "delete", "privatekey:at_secret"),
    );
    // CRAM still works: the secret is still there.
    await s.owner();
  });

  it("C1: sync:from does not hand a {wavi:r} app the signing private key", async () => {
    const all = JSON.parse(await owner.execute("sync:from:-1:limit:100")) as Array<{
      atKey: string;
    }>;
    expect(all.map((e) => e.atKey)).to.include("@alice:signing_privatekey@alice");
    const mine = JSON.parse(await app.execute("sync:from:-1:limit:100")) as Array<{
      atKey: string;
      value: string | null;
    }>;
    expect(mine.map((e) => e.atKey)).to.not.include("@alice:signing_privatekey@alice");
    expect(JSON.parse(await app.execute("scan"))).to.not.include("@alice:signing_privatekey@alice");
  });

  it("C1: shared_key keys stay readable by a {wavi:r} app but only an app with rw somewhere writes them", async () => {
    await owner.execute("update:@bob:shared_key@alice SHAREDKEY");
    expect(await app.execute("llookup:@bob:shared_key@alice")).to.equal("SHAREDKEY");
    expect(await app.send("update:@bob:shared_key@alice MINE")).to.equal(
      refused(id, "update", "@bob:shared_key@alice"),
    );
    const writerId = await enrolled(owner, await s.client(), "writer", { wavi: "rw" });
    const writer = await s.client();
    await loginApkam(writer, writerId);
    expect(await writer.execute("update:@carol:shared_key@alice CAROLKEY")).to.match(/^\d+$/);
    // …and even that app gets no owner keys.
    expect(await writer.send("llookup:@alice:signing_privatekey@alice")).to.equal(
      refused(writerId, "llookup", "@alice:signing_privatekey@alice"),
    );
  });

  it("C1: a __manage:rw app reads the owner keys but no enrollment may write privatekey:at_pkam_publickey", async () => {
    const mgrId = await enrolled(owner, await s.client(), "manager", {
      wavi: "rw",
      __manage: "rw",
    });
    const mgr = await s.client();
    await loginApkam(mgr, mgrId);
    expect(await mgr.execute("llookup:@alice:signing_privatekey@alice")).to.match(/^MII/);
    const key = "privatekey:at_pkam_publickey";
    expect(await mgr.send(`update:${key} ${appKeys.publicKey}`)).to.equal(
      refused(mgrId, "update", key),
    );
    // The bootstrap enrollment (CRAM, auto-approved with * and __manage) is refused too.
    const boot = JSON.parse(await owner.execute(enrollRequest("boot", "dev", { wavi: "rw" })));
    const b = await s.client();
    await loginApkam(b, boot.enrollmentId);
    expect(await b.send(`update:${key} ${appKeys.publicKey}`)).to.equal(
      refused(boot.enrollmentId, "update", key),
    );
    expect(await b.execute("update:public:publickey@alice MIIbootstrap")).to.match(/^\d+$/);
  });

  it("M3: stats:15 lists only the key names a {wavi:r} app may see (and stats:6 only such keys)", async () => {
    await owner.execute("update:secret.atmosphere@alice x");
    await owner.execute("update:visible.wavi@alice y");
    await owner.execute("update:public:card.atmosphere@alice z");
    await (await s.client()).execute("lookup:card.atmosphere@alice");
    await owner.execute("update:@alice:note.atmosphere@alice n");
    await owner.execute("lookup:note.atmosphere@alice");
    expect(JSON.parse(JSON.parse(await owner.execute("stats:6"))[0].value)).to.have.property(
      "@alice:note.atmosphere@alice",
    );
    const ownerView = JSON.parse(await owner.execute("stats:15"))[0].value;
    expect(Object.keys(JSON.parse(ownerView))).to.include("secret.atmosphere@alice");
    const stats = JSON.parse(await app.execute("stats:15,6")) as Array<{ value: string }>;
    const names = Object.keys(JSON.parse(stats[0]!.value));
    expect(names).to.include("visible.wavi@alice");
    expect(names).to.not.include("secret.atmosphere@alice");
    expect(names).to.not.include("@alice:signing_privatekey@alice");
    expect(names).to.not.include(`${id}.new.enrollments.__manage@alice`);
    // topKeys (6) shows a public key, which the app may read anyway, and no other namespace.
    const top = JSON.parse(stats[1]!.value) as Record<string, number>;
    expect(top).to.have.property("public:card.atmosphere@alice");
    expect(top).to.not.have.property("@alice:note.atmosphere@alice");
  });

  it("M3: a {wavi:r} app cannot send text notifications (no namespace: * decides)", async () => {
    expect(await app.send("notify:messageType:text:@bob:hello there")).to.equal(
      `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to send text notifications`,
    );
    expect(await app.send("notify:all:messageType:text:@bob,@carol:hi")).to.equal(
      `error:AT0009-UnAuthorized client in request : Connection with enrollment ID ${id} is not authorized to send text notifications`,
    );
    const all = await enrolled(owner, await s.client(), "texter", { "*": "rw" });
    const t = await s.client();
    await loginApkam(t, all);
    expect(await t.execute("notify:messageType:text:@bob:hello there")).to.match(/^[\w-]+$/);
  });
});

describe("attacks by a narrow APKAM app across atSigns (issue 11: M3)", function () {
  this.timeout(60_000);
  let p: Platform;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"]);
  });
  after(async () => p.stop());

  it("M3: a {wavi:r} app cannot look up or list another atSign's keys outside its namespaces, cached copy included", async () => {
    const bob = await p.owner("@bob");
    await bob.execute("update:ttr:-1:@alice:pin.bank@bob 1234");
    await bob.execute("update:@alice:phone.wavi@bob 555");
    const alice = await p.owner("@alice");
    expect(await alice.execute("lookup:pin.bank@bob")).to.equal("1234");
    expect(await alice.execute("llookup:cached:@alice:pin.bank@bob")).to.equal("1234");
    const id = await enrolled(alice, await p.client("@alice"), "reader", { wavi: "r" });
    const app = await p.client("@alice");
    await loginApkam(app, id);
    expect(await app.send("lookup:pin.bank@bob")).to.equal(
      refused(id, "lookup", "@alice:pin.bank@bob"),
    );
    expect(await app.send("lookup:all:pin.bank@bob")).to.equal(
      refused(id, "lookup", "@alice:pin.bank@bob"),
    );
    expect(await app.send("llookup:cached:@alice:pin.bank@bob")).to.equal(
      refused(id, "llookup", "cached:@alice:pin.bank@bob"),
    );
    expect(await app.execute("lookup:phone.wavi@bob")).to.equal("555");
    // The relayed listing of bob's keys is cut to the app's namespaces too.
    expect(JSON.parse(await alice.execute("scan:@bob"))).to.include.members([
      "pin.bank@bob",
      "phone.wavi@bob",
    ]);
    const listed = JSON.parse(await app.execute("scan:@bob")) as string[];
    expect(listed).to.include("phone.wavi@bob");
    expect(listed).to.not.include("pin.bank@bob");
  });
});

describe("low-severity attacks on any connection (issue 11)", function () {
  this.timeout(30_000);
  let s: Started;
  before(async () => {
    s = await startServer({ maxAuthFailures: 3 });
  });
  after(async () => s.stop());

  it("notify:status before auth → AT0401 (no probing of notification ids)", async () => {
    const owner = await s.owner();
    const nid = await owner.execute("notify:update:@alice:x.wavi@alice:v");
    const anon = await s.client();
    expect(await anon.send(`notify:status:${nid}`)).to.equal(
      "error:AT0401-Exception: Command cannot be executed without auth",
    );
    expect(await owner.execute(`notify:status:${nid}`)).to.match(/^\w+$/);
  });

  it("an error line never carries the raw control bytes of the command (no injected lines, no escapes)", async () => {
    const raw = await RawConn.open(s.port, s.tls.ca);
    try {
      await raw.until((t) => t.endsWith("@"));
      raw.write("from:@alice\n");
      const challenge = /data:(\S+)\n/.exec(await raw.until((t) => /data:\S+\n/.test(t)))![1]!;
      raw.write(`cram:${cramDigest(SECRET, challenge)}\n`);
      await raw.until((t) => t.includes("data:success"));
      raw.write("llookup:a\rdata:success\u001b[2J\u0007\u2028.wavi@alice\n");
      const text = await raw.until((t) => /error:[^\n]*\n@alice@$/.test(t));
      const line = text.slice(text.indexOf("error:"), text.lastIndexOf("\n"));
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      expect(line).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      // (key names are lower-cased: `[2J` comes back `[2j`)
      expect(line).to.include("a\\u000ddata:success\\u001b[2j\\u0007\\u2028.wavi@alice");
    } finally {
      raw.destroy();
    }
  });

  it("a connection that fails CRAM/PKAM 3 times gets AT0401 each time and is closed after the third", async () => {
    const raw = await RawConn.open(s.port, s.tls.ca);
    try {
      await raw.until((t) => t.endsWith("@"));
      for (let i = 1; i <= 3; i++) {
        raw.write("from:@alice\n");
        await raw.until((t) => (t.match(/data:_/g) ?? []).length === i);
        raw.write(i === 2 ? `pkam:${"A".repeat(344)}\n` : `cram:${"0".repeat(128)}\n`);
        await raw.until((t) => (t.match(/error:AT0401-/g) ?? []).length === i);
        if (i < 3) expect(raw.closed).to.equal(false);
      }
      await raw.waitClosed();
    } finally {
      raw.destroy();
    }
    // A fresh connection with the right secret still gets in: the bound is per connection.
    const ok = await s.client();
    await ok.cram(SECRET);
  });
});
