// Part C: the official Python SDK's onboarding and data operations, line for line.
import { expect } from "chai";
import { join } from "node:path";
import {
  aesDecrypt,
  aesEncrypt,
  AtClient,
  cramDigest,
  generateAesKey,
  generateRsaKeyPair,
  KeyNotFoundError,
  readAtKeys,
  rsaDecrypt,
  rsaEncrypt,
  rsaSign,
  signPkam,
  writeAtKeys,
} from "@atplatform/protocol";
import { SECRET, startServer, type Started } from "./harness";

describe("atserver: the SDK onboarding sequence and data operations (Part C)", () => {
  let s: Started;
  let c: AtClient;
  let keysFile: string;
  const bob = generateRsaKeyPair();
  before(async () => {
    s = await startServer();
    keysFile = join(s.dir, "@alice_key.atKeys");
  });
  after(async () => s.stop());

  it("onboards: CRAM, PKAM key, PKAM on the same connection, encryption key, delete the CRAM secret", async () => {
    c = await s.client();
    // 1. from + cram
    const ch1 = await c.execute("from:@alice");
    expect(await c.send(`cram:${cramDigest(SECRET, ch1)}`)).to.equal("data:success");
    // 2. keys generated locally and written to the .atKeys file
    const pkam = generateRsaKeyPair();
    const enc = generateRsaKeyPair();
    writeAtKeys(keysFile, {
      selfEncryptionKey: generateAesKey(),
      pkamPublicKey: pkam.publicKey,
      pkamPrivateKey: pkam.privateKey,
      encryptPublicKey: enc.publicKey,
      encryptPrivateKey: enc.privateKey,
    });
    // 3. publish the PKAM public key
    expect(await c.send(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`)).to.match(
      /^data:.+/,
    );
    // 4. re-read the keys file; from + pkam on the SAME (already authenticated) connection
    const keys = readAtKeys(keysFile);
    const ch2 = await c.execute("from:@alice");
    expect(c.prompt).to.equal("@alice@");
    expect(await c.send(`pkam:${signPkam(keys.pkamPrivateKey, ch2)}`)).to.match(/^data:success/);
    // 5. publish the encryption public key
    expect(await c.send(`update:public:publickey@alice ${keys.encryptPublicKey}`)).to.match(
      /^data:.+/,
    );
    // 6. delete the CRAM secret
    expect(await c.send("delete:privatekey:at_secret")).to.match(/^data:.+/);
  });

  it("afterwards only the .atKeys file gets in: PKAM works on a new connection, CRAM does not", async () => {
    const keys = readAtKeys(keysFile);
    const fresh = await s.client();
    const ch = await fresh.execute("from:@alice");
    expect(await fresh.send(`cram:${cramDigest(SECRET, ch)}`)).to.match(/^error:AT0401/);
    const ch2 = await fresh.execute("from:@alice");
    expect(await fresh.send(`pkam:${signPkam(keys.pkamPrivateKey, ch2)}`)).to.equal("data:success");
  });

  it("public put, get, delete", async () => {
    const keys = readAtKeys(keysFile);
    const value = "public value from @alice";
    const sig = rsaSign(keys.encryptPrivateKey, value);
    expect(await c.send(`update:dataSignature:${sig}:public:pub.ns@alice ${value}`)).to.match(
      /^data:\d+$/,
    );
    const got = JSON.parse(await c.execute("llookup:all:public:pub.ns@alice"));
    expect(got).to.have.all.keys("key", "data", "metaData");
    expect(got.key).to.equal("public:pub.ns@alice");
    expect(got.data).to.equal(value);
    expect(got.metaData.dataSignature).to.equal(sig);
    expect(await c.send("delete:public:pub.ns@alice")).to.match(/^data:\d+$/);
    expect(
      await c.execute("llookup:all:public:pub.ns@alice").catch((e: unknown) => e),
    ).to.be.instanceOf(KeyNotFoundError);
  });

  it("self put, get, delete (AES-CTR with the self key)", async () => {
    const keys = readAtKeys(keysFile);
    const plain = "self secret";
    const cipher = aesEncrypt(plain, keys.selfEncryptionKey);
    const sig = rsaSign(keys.encryptPrivateKey, plain);
    expect(
      await c.send(`update:dataSignature:${sig}:isEncrypted:true:self.ns@alice ${cipher}`),
    ).to.match(/^data:\d+$/);
    const got = JSON.parse(await c.execute("llookup:all:self.ns@alice"));
    expect(got.metaData.isEncrypted).to.equal(true);
    expect(aesDecrypt(got.data, keys.selfEncryptionKey)).to.equal(plain);
    expect(await c.send("delete:self.ns@alice")).to.match(/^data:\d+$/);
  });

  it("shared put (new shared key: AT0015 first), read back by alice, delete", async () => {
    const keys = readAtKeys(keysFile);
    const first = await c.send("llookup:shared_key.bob@alice");
    expect(first).to.match(/^error:AT0015[-:]/);
    // (plookup:publickey@bob needs bob's atServer: federation; bob's key is known here.)
    const shared = generateAesKey();
    expect(
      await c.send(`update:shared_key.bob@alice ${rsaEncrypt(shared, keys.encryptPublicKey)}`),
    ).to.match(/^data:\d+$/);
    expect(
      await c.send(
        `update:ttr:86400000:@bob:shared_key@alice ${rsaEncrypt(shared, bob.publicKey)}`,
      ),
    ).to.match(/^data:\d+$/);
    const cipher = aesEncrypt("for bob", shared);
    expect(await c.send(`update:isEncrypted:true:@bob:shr.ns@alice ${cipher}`)).to.match(
      /^data:\d+$/,
    );
    const mine = rsaDecrypt(
      await c.execute("llookup:shared_key.bob@alice"),
      keys.encryptPrivateKey,
    );
    expect(mine).to.equal(shared);
    expect(aesDecrypt(await c.execute("llookup:@bob:shr.ns@alice"), mine)).to.equal("for bob");
    expect(rsaDecrypt(await c.execute("llookup:@bob:shared_key@alice"), bob.privateKey)).to.equal(
      shared,
    );
    expect(await c.send("delete:@bob:shr.ns@alice")).to.match(/^data:\d+$/);
  });

  it("scan:showHidden:true lists parseable keys; llookup:meta of each parses", async () => {
    await c.execute("update:public:scan.me@alice x");
    const listed = JSON.parse(await c.execute("scan:showHidden:true")) as string[];
    expect(listed).to.include.members([
      "public:publickey@alice",
      "shared_key.bob@alice",
      "@bob:shared_key@alice",
      "public:scan.me@alice",
    ]);
    for (const k of listed) {
      const last = k.slice(k.lastIndexOf(":") + 1);
      expect(last.split("@")[1], k).to.be.a("string").and.not.equal("");
      const meta = JSON.parse(await c.execute(`llookup:meta:${k}`));
      expect(meta.createdAt, k).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(JSON.parse(await c.execute("scan:showHidden:true scan\\.me"))).to.deep.equal([
      "public:scan.me@alice",
    ]);
  });
});
