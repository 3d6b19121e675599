import { expect } from "chai";
import { AtClient, issueServerCertificate, KeyNotFoundError } from "@atplatform/protocol";
import { testCa } from "../support/test-ca";
import { startPlatform, type Platform } from "./federation-harness";

async function failure(c: AtClient, cmd: string): Promise<Error & { code?: string }> {
  try {
    const r = await c.execute(cmd);
    throw new Error(`expected an error from ${cmd}, got data:${r}`);
  } catch (err) {
    return err as Error & { code?: string };
  }
}

async function until(pred: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("atserver federation: lookups across atServers and pol (Part A 10, Part B §5.3, §9)", function () {
  this.timeout(30_000);
  let p: Platform;
  let alice: AtClient;
  let bob: AtClient;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"], { overrides: { testingMode: true } });
    alice = await p.owner("@alice");
    bob = await p.owner("@bob");
  });
  after(async () => p.stop());

  it("bob's server returns alice's shared key: alice update:@bob:special-code@alice → bob lookup:special-code@alice", async () => {
    await alice.execute("update:@bob:special-code@alice s3cr3t code");
    expect(await bob.execute("lookup:special-code@alice")).to.equal("s3cr3t code");
    const all = JSON.parse(await bob.execute("lookup:all:special-code@alice"));
    expect(all).to.include({ key: "@bob:special-code@alice", data: "s3cr3t code" });
  });

  it("plookup returns alice's public key (emoji too) and the new value after a re-update; scan lists the cached copy", async () => {
    await alice.execute("update:public:phone@alice 99-111");
    expect(await bob.execute("plookup:phone@alice")).to.equal("99-111");
    await alice.execute("update:public:🦄🦄@alice unicorn");
    expect(await bob.execute("plookup:🦄🦄@alice")).to.equal("unicorn");
    await alice.execute("update:public:phone@alice 99-222");
    expect(await bob.execute("plookup:phone@alice")).to.equal("99-222");
    expect(await alice.execute("plookup:phone@alice")).to.equal("99-222");
    expect(JSON.parse(await bob.execute("scan"))).to.include("cached:public:phone@alice");
    expect(JSON.parse(await bob.execute("plookup:all:phone@alice")).key).to.equal(
      "public:phone@alice",
    );
  });

  it("plookup:no-key@alice → AT0015 …public:no-key@alice does not exist in keystore; publickey@alice for the SDK's shared put", async () => {
    const err = await failure(bob, "plookup:no-key@alice");
    expect(err).to.be.instanceOf(KeyNotFoundError);
    expect(err.message).to.include("public:no-key@alice does not exist in keystore");
    await alice.execute("update:public:publickey@alice MIIBalice");
    expect(await bob.execute("plookup:publickey@alice")).to.equal("MIIBalice");
  });

  it("ttr:-1 shared keys are cached on bob's side (llookup:cached:@bob:…@alice); a missing key removes the cache", async () => {
    await alice.execute("update:ttr:-1:@bob:youtube_id@alice yt-1");
    expect(await bob.execute("lookup:youtube_id@alice")).to.equal("yt-1");
    expect(await bob.execute("llookup:cached:@bob:youtube_id@alice")).to.equal("yt-1");
    await alice.execute("delete:@bob:youtube_id@alice");
    expect(
      await bob.execute("lookup:bypassCache:true:youtube_id@alice").catch((e: unknown) => e),
    ).to.be.instanceOf(KeyNotFoundError);
    expect(await failure(bob, "llookup:cached:@bob:youtube_id@alice")).to.be.instanceOf(
      KeyNotFoundError,
    );
  });

  it("with autoNotify off, a cached key is served from cache until bypassCache:true", async () => {
    expect(await alice.execute("config:set:autoNotify=false")).to.equal("ok");
    try {
      await alice.execute("update:ttr:-1:@bob:fav-city@alice Paris");
      expect(await bob.execute("lookup:fav-city@alice")).to.equal("Paris");
      await alice.execute("update:ttr:-1:@bob:fav-city@alice Rome");
      expect(await bob.execute("lookup:fav-city@alice")).to.equal("Paris");
      expect(await bob.execute("lookup:bypassCache:true:fav-city@alice")).to.equal("Rome");
    } finally {
      await alice.execute("config:reset:autoNotify");
    }
  });

  it("the cache refresh re-reads cached copies whose refreshAt passed", async () => {
    expect(await alice.execute("config:set:autoNotify=false")).to.equal("ok");
    try {
      await alice.execute("update:ttr:1:@bob:refresh.k@alice old");
      expect(await bob.execute("lookup:refresh.k@alice")).to.equal("old");
      await alice.execute("update:ttr:1:@bob:refresh.k@alice new");
      expect(await bob.execute("llookup:cached:@bob:refresh.k@alice")).to.equal("old");
      await new Promise((r) => setTimeout(r, 1100));
      expect(await p.servers["@bob"]!.refreshCache()).to.be.at.least(1);
      expect(await bob.execute("llookup:cached:@bob:refresh.k@alice")).to.equal("new");
    } finally {
      await alice.execute("config:reset:autoNotify");
    }
  });

  it("when a peer's publickey changes, shared_key.<peer>@bob is kept as shared_key.<peer>.until.<ms>@bob", async () => {
    await alice.execute("update:public:publickey@alice KEY-ONE");
    expect(await bob.execute("plookup:bypassCache:true:publickey@alice")).to.equal("KEY-ONE");
    await bob.execute("update:shared_key.alice@bob WRAPPED-FOR-ONE");
    await alice.execute("update:public:publickey@alice KEY-TWO");
    expect(await bob.execute("plookup:bypassCache:true:publickey@alice")).to.equal("KEY-TWO");
    expect(await bob.send("llookup:shared_key.alice@bob")).to.match(/^error:AT0015/);
    const kept = (JSON.parse(await bob.execute("scan shared_key.alice.until")) as string[])[0]!;
    expect(kept).to.match(/^shared_key\.alice\.until\.\d+@bob$/);
    expect(await bob.execute(`llookup:${kept}`)).to.equal("WRAPPED-FOR-ONE");
  });

  it("auto-notify keeps bob's cache: ttr:-1 update appears as llookup:cached; ttr+ccd:true delete removes bob's copy", async () => {
    await alice.execute("update:ttr:-1:@bob:yt_id@alice v-yt");
    await until(async () => (await bob.send("llookup:cached:@bob:yt_id@alice")) === "data:v-yt");
    await alice.execute("update:ttr:10000:ccd:true:@bob:ccd.auto@alice v-ccd");
    await until(
      async () => (await bob.send("llookup:cached:@bob:ccd.auto@alice")) === "data:v-ccd",
    );
    await alice.execute("delete:@bob:ccd.auto@alice");
    await until(async () =>
      (await bob.send("llookup:cached:@bob:ccd.auto@alice")).startsWith("error:AT0015"),
    );
  });

  it("bob relays scan:@alice: only keys shared with bob, prefix removed", async () => {
    await alice.execute("update:@bob:for-bob.scan@alice x");
    await alice.execute("update:@carol:for-carol.scan@alice x");
    const listed = JSON.parse(await bob.execute("scan:@alice .scan")) as string[];
    expect(listed).to.deep.equal(["for-bob.scan@alice"]);
  });

  it("lookup of an atSign the directory does not know → AT0007", async () => {
    expect((await failure(bob, "lookup:x@nobody")).code).to.equal("AT0007");
  });

  it("a peer without a client certificate, or with one for another host, fails from: (Certificate Verification Failed)", async () => {
    const noCert = await p.client("@alice");
    expect(await noCert.send("from:@bob")).to.match(
      /^error:AT0401-Exception: Certificate Verification Failed/,
    );
    const ca = await testCa();
    const evil = await issueServerCertificate(ca, { names: ["evil.example"] });
    const wrongHost = await p.client("@alice", { cert: evil.cert, key: evil.key });
    expect(await wrongHost.send("from:@bob")).to.match(
      /^error:AT0401-Exception: Certificate Verification Failed/,
    );
    expect(await wrongHost.send("lookup:special-code@alice")).to.match(/^error:AT0015/);
  });

  it("a peer that claims bob but cannot prove bob's signing key fails pol and gets nothing", async () => {
    const c = await p.client("@alice", { cert: p.tls.cert, key: p.tls.key });
    expect(await c.execute("from:@bob")).to.match(/^proof:/);
    // Bob's real server never published a proof for this session: alice's check fails.
    expect(await c.send("pol")).to.match(/^error:AT0401-Exception: Pol Authentication Failed/);
    expect(c.prompt).to.equal("@");
    expect(await c.send("lookup:special-code@alice")).to.match(/^error:AT0015/);
    expect(await c.send("scan")).to.not.include("special-code");
  });
});
