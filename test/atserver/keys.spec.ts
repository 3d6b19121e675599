import { expect } from "chai";
import { randomUUID } from "node:crypto";
import {
  AtClient,
  InvalidKeyError,
  InvalidSyntaxError,
  KeyNotFoundError,
} from "@atplatform/protocol";
import { startServer, type Started } from "./harness";

/** The error a command raises (fails the test if it succeeds). */
async function failure(c: AtClient, cmd: string): Promise<Error & { code?: string }> {
  try {
    const r = await c.execute(cmd);
    throw new Error(`expected an error from ${cmd}, got data:${r}`);
  } catch (err) {
    return err as Error & { code?: string };
  }
}

describe("atserver: update / llookup / metadata / delete / scan / lookup (Part B §9)", () => {
  let s: Started;
  let c: AtClient;
  // The server's clock (for ttl/ttb without sleeping); real time plus an offset.
  let skew = 0;
  const now = () => Date.now() + skew;
  before(async () => {
    s = await startServer({}, "@alice", { now });
    c = await s.owner();
  });
  after(async () => s.stop());

  describe("update / llookup", () => {
    for (const value of [
      "a value with spaces",
      "@!ice^&##",
      "U+0026",
      "🦄🦄 emoji",
      "日本語の値",
    ]) {
      it(`stores and returns ${JSON.stringify(value)}`, async () => {
        expect(await c.execute(`update:public:v-${randomUUID()}@alice x`)).to.match(/^\d+$/);
        const key = `public:val${value.length}@alice`;
        expect(await c.execute(`update:${key} ${value}`)).to.match(/^\d+$/);
        expect(await c.execute(`llookup:${key}`)).to.equal(value);
      });
    }

    it("re-update returns the newest value", async () => {
      await c.execute("update:public:re@alice one");
      await c.execute("update:public:re@alice two");
      expect(await c.execute("llookup:public:re@alice")).to.equal("two");
    });

    it("update without a value, with @@, or with a scope in the key → Invalid syntax", async () => {
      for (const cmd of [
        "update:public:k@alice",
        "update:public:country@@alice USA",
        "update:public:@alice:invalid-key@alice v",
      ]) {
        const err = await failure(c, cmd);
        expect(err, cmd).to.be.instanceOf(InvalidSyntaxError);
        expect(err.message).to.include("Invalid syntax");
      }
    });

    it("update:public:country,current@alice → AT0016 You may not update keys of type KeyType.invalidKey", async () => {
      const err = await failure(c, "update:public:country,current@alice USA");
      expect(err).to.be.instanceOf(InvalidKeyError);
      expect(err.message).to.include(
        "Invalid key : You may not update keys of type KeyType.invalidKey",
      );
    });

    it("keys of another owner, cached: and local: keys cannot be updated", async () => {
      expect((await failure(c, "update:public:x@bob v")).message).to.include(
        "should be same as current atsign",
      );
      expect(await failure(c, "update:cached:x@alice v")).to.be.instanceOf(InvalidSyntaxError);
      expect(await failure(c, "update:local:x@alice v")).to.be.instanceOf(InvalidSyntaxError);
    });

    it("update:@🦄:emoji.name@alice v then llookup:@🦄:emoji.name@alice → v", async () => {
      await c.execute("update:@🦄:emoji.name@alice v");
      expect(await c.execute("llookup:@🦄:emoji.name@alice")).to.equal("v");
    });

    it('ttl:3000 → meta has "ttl":3000; value before, data:null after', async () => {
      await c.execute("update:ttl:3000:public:ttl-key@alice alive");
      expect(await c.execute("llookup:meta:public:ttl-key@alice")).to.include('"ttl":3000');
      expect(await c.execute("llookup:public:ttl-key@alice")).to.equal("alive");
      skew += 3001;
      try {
        expect(await c.execute("llookup:public:ttl-key@alice")).to.equal("null");
      } finally {
        skew -= 3001;
      }
    });

    it('ttb:2000 → null before, value after, meta has "ttb":2000; ttl:4000+ttb:2000 → null, value, null at 0/2/6 s', async () => {
      await c.execute("update:ttb:2000:public:ttb-key@alice born");
      expect(await c.execute("llookup:public:ttb-key@alice")).to.equal("null");
      skew += 2001;
      expect(await c.execute("llookup:public:ttb-key@alice")).to.equal("born");
      expect(await c.execute("llookup:meta:public:ttb-key@alice")).to.include('"ttb":2000');
      skew -= 2001;
      await c.execute("update:ttl:4000:ttb:2000:public:both@alice x");
      const at = async (ms: number) => {
        skew += ms;
        try {
          return await c.execute("llookup:public:both@alice");
        } finally {
          skew -= ms;
        }
      };
      expect(await at(0)).to.equal("null");
      expect(await at(2001)).to.equal("x");
      expect(await at(6001)).to.equal("null");
    });

    it("new key: version 0, createdAt ≥ request time, createdBy @alice; second update: version 1, updatedAt ≥ update time", async () => {
      const t0 = new Date(Math.floor(now() / 1000) * 1000);
      await c.execute("update:public:ver@alice 1");
      const m0 = JSON.parse(await c.execute("llookup:all:public:ver@alice")).metaData;
      expect(m0.version).to.equal(0);
      expect(m0.createdBy).to.equal("@alice");
      expect(new Date(m0.createdAt.replace(" ", "T")).getTime()).to.be.at.least(t0.getTime());
      const t1 = now() - 1;
      await c.execute("update:public:ver@alice 2");
      const m1 = JSON.parse(await c.execute("llookup:all:public:ver@alice")).metaData;
      expect(m1.version).to.equal(1);
      expect(m1.updatedBy).to.equal("@alice");
      expect(new Date(m1.updatedAt.replace(" ", "T")).getTime()).to.be.at.least(t1);
      expect(m1.createdAt).to.equal(m0.createdAt);
    });

    it("llookup:all shape: key, data, metaData with nulls omitted; meta alone", async () => {
      await c.execute(
        "update:isEncrypted:true:ivNonce:abc=:sharedKeyEnc:s1:pubKeyCS:cs:encKeyName:k:encAlgo:AES/CTR/PKCS7Padding:skeEncKeyName:sk:skeEncAlgo:RSA:@bob:meta.x@alice CIPHER",
      );
      const all = JSON.parse(await c.execute("llookup:all:@bob:meta.x@alice"));
      expect(all.key).to.equal("@bob:meta.x@alice");
      expect(all.data).to.equal("CIPHER");
      expect(all.metaData).to.include({
        isEncrypted: true,
        isBinary: false,
        ivNonce: "abc=",
        sharedKeyEnc: "s1",
        pubKeyCS: "cs",
        encKeyName: "k",
        encAlgo: "AES/CTR/PKCS7Padding",
        skeEncKeyName: "sk",
        skeEncAlgo: "RSA",
        status: "active",
      });
      expect(Object.values(all.metaData)).to.not.include(null);
      expect(JSON.parse(await c.execute("llookup:meta:@bob:meta.x@alice"))).to.deep.equal(
        all.metaData,
      );
    });

    it("a text attribute given as null is cleared; isEncrypted resets unless given", async () => {
      await c.execute("update:isEncrypted:true:ivNonce:n1:self.reset@alice v");
      await c.execute("update:ivNonce:null:self.reset@alice v2");
      const m = JSON.parse(await c.execute("llookup:meta:self.reset@alice"));
      expect(m).to.not.have.property("ivNonce");
      expect(m.isEncrypted).to.equal(false);
    });

    it("ttr/ccd: ccd defaults to false with ttr; update:meta changes only metadata", async () => {
      await c.execute("update:ttr:-1:@bob:ttr.k@alice v");
      expect(JSON.parse(await c.execute("llookup:meta:@bob:ttr.k@alice"))).to.include({
        ttr: -1,
        ccd: false,
      });
      expect(await c.execute("update:meta:@bob:ttr.k@alice:ttl:600000:isBinary:true")).to.match(
        /^\d+$/,
      );
      const all = JSON.parse(await c.execute("llookup:all:@bob:ttr.k@alice"));
      expect(all.data).to.equal("v");
      expect(all.metaData).to.include({ ttl: 600000, isBinary: true, ttr: -1, version: 1 });
    });

    it("llookup of a missing key → AT0015 key not found : <key> does not exist in keystore", async () => {
      const id = randomUUID();
      const err = await failure(c, `llookup:random-${id}@alice`);
      expect(err).to.be.instanceOf(KeyNotFoundError);
      expect(err.message).to.include(
        `key not found : random-${id}@alice does not exist in keystore`,
      );
    });

    it("lokup:… and plookup:x@alice@@@ → Invalid syntax", async () => {
      expect((await failure(c, "lokup:x@alice")).message).to.include("Invalid syntax");
      expect((await failure(c, "plookup:x@alice@@@")).message).to.include("Invalid syntax");
    });

    it("llookup:country@alice when only @bob:country@alice exists → AT0015", async () => {
      await c.execute("update:@bob:country@alice India");
      expect(await failure(c, "llookup:country@alice")).to.be.instanceOf(KeyNotFoundError);
    });

    it("two spaces before the value are kept: llookup contains bob-twitter", async () => {
      await c.execute("update:public:twitterid@alice  bob-twitter");
      expect(await c.execute("llookup:public:twitterid@alice")).to.include("bob-twitter");
    });

    it("atsign:// references: llookup returns the text, unauthenticated lookup resolves it", async () => {
      await c.execute("update:public:landline@alice 040-1234");
      await c.execute("update:public:landlineref@alice  atsign://landline@alice");
      expect(await c.execute("llookup:public:landlineref@alice")).to.include(
        "atsign://landline@alice",
      );
      const anon = await s.client();
      expect(await anon.execute("lookup:landlineref@alice")).to.equal("040-1234");
    });

    it("keys are lower-cased: update:ttl:3000:ttlKEY-x.me@alice then scan shows ttlkey-x.me@alice", async () => {
      await c.execute("update:ttl:3000:ttlKEY-x.me@alice 1");
      expect(JSON.parse(await c.execute("scan"))).to.include("ttlkey-x.me@alice");
    });
  });

  describe("expiry sweep", () => {
    it("expired keys are removed in the background (then AT0015) and the removal is a commit", async () => {
      let skew2 = 0;
      const swept = await startServer({ expirySweepMs: 50 }, "@alice", {
        now: () => Date.now() + skew2,
      });
      try {
        const o = await swept.owner();
        const before = Number(await o.execute("update:ttl:1000:public:sweep.me@alice x"));
        expect(await o.execute("llookup:public:sweep.me@alice")).to.equal("x");
        skew2 += 1001;
        await waitFor(async () =>
          (await o.send("llookup:public:sweep.me@alice")).startsWith("error:AT0015"),
        );
        const entries = JSON.parse(await o.execute(`sync:from:${before}:limit:5`)) as Array<{
          atKey: string;
        }>;
        const removal = entries.find((e) => e.atKey === "public:sweep.me@alice");
        expect(removal).to.deep.include({ value: null, metadata: null, operation: "-" });
      } finally {
        await swept.stop();
      }
    });
  });

  describe("delete", () => {
    it("delete a public key → data:<int>, gone from scan; an emoji key too; absent key and 3× delete → data:\\d+", async () => {
      await c.execute("update:public:del1@alice v");
      expect(await c.execute("delete:public:del1@alice")).to.match(/^\d+$/);
      expect(JSON.parse(await c.execute("scan"))).to.not.include("public:del1@alice");
      await c.execute("update:public:🦄del@alice v");
      expect(await c.execute("delete:public:🦄del@alice")).to.match(/^\d+$/);
      for (let i = 0; i < 3; i++)
        expect(await c.execute("delete:public:del1@alice")).to.match(/^\d+$/);
      expect(await c.execute(`delete:never-${randomUUID()}@alice`)).to.match(/^\d+$/);
    });

    it("deete:phone@alice → Invalid syntax; delete:privatekey:at_pkam_publickey → Invalid syntax", async () => {
      expect((await failure(c, "deete:phone@alice")).message).to.include("Invalid syntax");
      expect((await failure(c, "delete:privatekey:at_pkam_publickey")).message).to.include(
        "Invalid syntax",
      );
    });

    it("protected keys are refused (UnAuthorized client in request : Cannot delete protected key) and stay listed", async () => {
      await c.execute("update:public:publickey@alice MIIBpub");
      await waitFor(async () => (await c.execute("scan")).includes("signing_publickey"));
      for (const k of [
        "public:signing_publickey@alice",
        "@alice:signing_privatekey@alice",
        "public:publickey@alice",
      ]) {
        const err = await failure(c, `delete:${k}`);
        expect(err.code, k).to.equal("AT0009");
        expect(err.message).to.include(
          "UnAuthorized client in request : Cannot delete protected key",
        );
      }
      const listed = JSON.parse(await c.execute("scan")) as string[];
      expect(listed).to.include.members([
        "public:signing_publickey@alice",
        "@alice:signing_privatekey@alice",
        "public:publickey@alice",
      ]);
    });

    it("update:ttr:-1:ccd:true:@bob:hobby@alice v then delete → success", async () => {
      await c.execute("update:ttr:-1:ccd:true:@bob:hobby@alice photography");
      expect(await c.execute("delete:@bob:hobby@alice")).to.match(/^\d+$/);
      expect(await failure(c, "llookup:@bob:hobby@alice")).to.be.instanceOf(KeyNotFoundError);
    });
  });

  describe("scan", () => {
    it("authenticated scan lists public:location-<id>@alice; scan <regex> filters; scan@ → Invalid syntax", async () => {
      const id = randomUUID().slice(0, 8);
      await c.execute(`update:public:location-${id}@alice here`);
      await c.execute(`update:other-${id}@alice there`);
      expect(JSON.parse(await c.execute("scan"))).to.include(`public:location-${id}@alice`);
      expect(JSON.parse(await c.execute(`scan location-${id}`))).to.deep.equal([
        `public:location-${id}@alice`,
      ]);
      expect((await failure(c, "scan@")).message).to.include("Invalid syntax");
    });

    it("expired (ttl) and unborn (ttb) keys are not listed; born keys reappear", async () => {
      await c.execute("update:ttl:200:public:scan-ttl@alice x");
      await c.execute("update:ttb:4000:public:scan-ttb@alice x");
      let listed = JSON.parse(await c.execute("scan scan-tt")) as string[];
      expect(listed).to.deep.equal(["public:scan-ttl@alice"]);
      skew += 4001;
      try {
        listed = JSON.parse(await c.execute("scan scan-tt"));
        expect(listed).to.deep.equal(["public:scan-ttb@alice"]);
      } finally {
        skew -= 4001;
      }
    });

    it("unauthenticated scan <id> lists location-<id>@alice (public keys, prefix stripped), nothing else", async () => {
      const id = randomUUID().slice(0, 8);
      await c.execute(`update:public:location-${id}@alice here`);
      await c.execute(`update:@bob:secret-${id}@alice s`);
      await c.execute(`update:public:_hidden-${id}@alice h`);
      const anon = await s.client();
      expect(JSON.parse(await anon.execute(`scan ${id}`))).to.deep.equal([`location-${id}@alice`]);
    });

    it("never lists privatekey:/private: keys; _hidden keys only with showHidden:true; each key has @owner after its last colon", async () => {
      await c.execute("update:_hidden.scan@alice h");
      const plain = JSON.parse(await c.execute("scan")) as string[];
      const hidden = JSON.parse(await c.execute("scan:showHidden:true")) as string[];
      expect(plain).to.not.include("_hidden.scan@alice");
      expect(hidden).to.include("_hidden.scan@alice");
      for (const k of hidden) {
        expect(k).to.not.match(/^private(key)?:/);
        expect(k.slice(k.lastIndexOf(":") + 1)).to.match(/^[^@]+@[^@]+$/);
      }
      expect(JSON.parse(await c.execute("scan:showHidden:true hidden\\.scan"))).to.deep.equal([
        "_hidden.scan@alice",
      ]);
    });
  });

  describe("lookup / plookup of own keys", () => {
    it("unauthenticated lookup reads public:<k>@alice; missing → AT0015", async () => {
      await c.execute("update:public:phone@alice 12345");
      const anon = await s.client();
      expect(await anon.execute("lookup:phone@alice")).to.equal("12345");
      expect(JSON.parse(await anon.execute("lookup:all:phone@alice")).key).to.equal(
        "public:phone@alice",
      );
      expect(await failure(anon, "lookup:nothing-here@alice")).to.be.instanceOf(KeyNotFoundError);
    });

    it("the owner's lookup reads @alice:<k>@alice; plookup of own public keys; plookup:mobile@alice@bob → Invalid syntax", async () => {
      await c.execute("update:@alice:own.k@alice mine");
      expect(await c.execute("lookup:own.k@alice")).to.equal("mine");
      await c.execute("update:public:pk.x@alice pub");
      expect(await c.execute("plookup:pk.x@alice")).to.equal("pub");
      expect(JSON.parse(await c.execute("plookup:all:pk.x@alice")).key).to.equal(
        "public:pk.x@alice",
      );
      expect((await failure(c, "plookup:no-key@alice")).message).to.include(
        "public:no-key@alice does not exist in keystore",
      );
      expect((await failure(c, "plookup:mobile@alice@bob")).message).to.include("Invalid syntax");
    });

    it("lookup of another atSign's key without federation answers AT0007, not a hang", async () => {
      expect((await failure(c, "lookup:phone@bob")).code).to.equal("AT0007");
    });
  });
});

async function waitFor(pred: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await new Promise((r) => setTimeout(r, 20));
  }
}
