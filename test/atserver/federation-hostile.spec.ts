// Issue 11, federation items: a scripted malicious atServer (@mallory: real TLS, a certificate
// valid under the test CA, listed in the test atDirectory) attacks real atServers.
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import { AtServer, resolveConfig } from "@atplatform/atserver";
import {
  AtClient,
  createCertificateAuthority,
  issueServerCertificate,
  rsaSign,
  rsaVerify,
} from "@atplatform/protocol";
import { boundChallenge } from "../../services/atserver/src/federation/pol-challenge";
import { MaliciousPeer } from "../support/malicious-peer";
import { testCa } from "../support/test-ca";
import { startPlatform, type Platform } from "./federation-harness";
import { startServer } from "./harness";

describe("atserver federation: a hostile peer atServer (issue 11: H1, H2, H3, M2)", function () {
  this.timeout(60_000);
  let p: Platform;
  let mallory: MaliciousPeer;
  let alice: AtClient;
  let bob: AtClient;
  let skew = 0;
  before(async () => {
    p = await startPlatform(["@alice", "@bob", "@carol", "@dave"], {
      external: ["@mallory"],
      now: () => Date.now() + skew,
      // The H1 expiry test moves the clock 75 s: keep the pool's reaper (same clock) from
      // closing its unauthenticated connection for age before pol is answered.
      overrides: { unauthLifetimeMs: 600_000 },
    });
    mallory = await MaliciousPeer.start({
      atSign: "@mallory",
      port: p.ports["@mallory"]!,
      cert: p.tls.cert,
      key: p.tls.key,
      ca: p.tls.ca,
      ports: p.ports,
    });
    alice = await p.owner("@alice");
    bob = await p.owner("@bob");
    await bob.execute("update:@alice:secret.app@bob real-secret");
  });
  afterEach(() => {
    mallory.script = undefined;
    skew = 0;
  });
  after(async () => {
    await mallory?.stop();
    await p?.stop();
  });

  it("H1: a peer relaying bob's pol challenge to alice cannot complete pol on bob as @alice", async () => {
    let relay: AtClient | undefined;
    mallory.script = async (line) => {
      if (line !== "from:@alice") return undefined;
      // Alice dialled us: ask bob for a challenge as @alice and hand it to alice to sign.
      relay = await mallory.dial("@bob");
      return `data:${await relay.execute("from:@alice")}\n@`;
    };
    await alice.send("lookup:anything@mallory");
    expect(relay, "alice dialled mallory").to.not.equal(undefined);
    expect(await relay!.send("pol")).to.match(/^error:AT0401-Exception: Pol Authentication Failed/);
    expect(relay!.prompt).to.equal("@");
    expect(await relay!.send("lookup:secret.app@bob")).to.not.include("real-secret");
  });

  it("H1: alice refuses to sign a verifier-bound challenge naming another atSign, and publishes nothing", async () => {
    const session = `_${randomUUID()}@alice`;
    mallory.script = (line) =>
      line === "from:@alice" ? `data:proof:${session}:${boundChallenge("@bob")}\n@` : undefined;
    expect(await alice.send("lookup:anything@mallory")).to.match(/^error:AT0008/);
    const anon = await mallory.dial("@alice");
    expect(await anon.send(`lookup:${session}`)).to.match(/^error:AT0015/);
    expect(mallory.inbound.at(-1)!.lines).to.not.include("pol");
    // Neither a legacy UUID nor a well-formed bound token: never signed either.
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    for (const challenge of [
      "sign-me",
      "pol1.!!",
      `pol1.${b64({ n: "x" })}`,
      `pol1.${b64({ v: "no at sign" })}`,
    ]) {
      mallory.script = (line) =>
        line === "from:@alice" ? `data:proof:_${randomUUID()}@alice:${challenge}\n@` : undefined;
      expect(await alice.send("lookup:anything@mallory"), challenge).to.match(/^error:AT0008/);
      expect(mallory.inbound.at(-1)!.lines, challenge).to.not.include("pol");
    }
  });

  it("H1: alice still signs a legacy bare-UUID challenge and one bound to the peer she dialled (reference servers, both generations)", async () => {
    for (const challenge of [randomUUID(), boundChallenge("@mallory")]) {
      const session = `_${randomUUID()}@alice`;
      mallory.script = (line) =>
        line === "from:@alice" ? `data:proof:${session}:${challenge}\n@` : undefined;
      await alice.send("lookup:anything@mallory");
      const anon = await mallory.dial("@alice");
      const signature = await anon.execute(`lookup:${session}`);
      const key = await anon.execute("lookup:signing_publickey@alice");
      expect(rsaVerify(key, challenge, signature), challenge).to.equal(true);
      // The next round needs a fresh handshake: end alice's pooled connection to us.
      for (const c of mallory.inbound) c.socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("H1: pol 75 s after from: is refused (the challenge expired after 60 s)", async () => {
    const c = await mallory.dial("@alice");
    const proof = await c.execute("from:@mallory");
    const [, session, challenge] = /^proof:([^:]+):(.+)$/.exec(proof)!;
    mallory.published.set(session!, rsaSign(mallory.signing.privateKey, challenge!));
    skew = 75_000;
    expect(await c.send("pol")).to.match(/^error:AT0401-Exception: Pol Authentication Failed/);
    expect(c.prompt).to.equal("@");
    skew = 0;
    // The challenge was used up by the failed attempt.
    expect(await c.send("pol")).to.match(/^error:AT0011/);
    // The same steps without the delay succeed: the peer itself is fine.
    expect((await mallory.polAs("@alice")).prompt).to.equal("@mallory@");
  });

  it("H2: proof session keys other than _<uuid>@alice are refused: alice's signing public key is never overwritten", async () => {
    const before = await alice.execute("llookup:public:signing_publickey@alice");
    const bad = [
      "signing_publickey@alice",
      "publickey@alice",
      "_not-a-uuid@alice",
      `_${randomUUID()}@bob`,
      `_${randomUUID()}@alice@bob`,
    ];
    for (const session of bad) {
      mallory.script = (line) =>
        line === "from:@alice" ? `data:proof:${session}:${randomUUID()}\n@` : undefined;
      expect(await alice.send("lookup:anything@mallory"), session).to.match(/^error:AT0008/);
    }
    expect(await alice.execute("llookup:public:signing_publickey@alice")).to.equal(before);
    const meta = JSON.parse(await alice.execute("llookup:meta:public:signing_publickey@alice"));
    expect(meta).to.not.have.property("expiresAt");
    for (const session of bad.slice(1)) {
      expect(await alice.send(`llookup:public:${session}`), session).to.match(/^error:/);
    }
  });

  it("H2: a signing public key replaced with an expiring value is restored before alice's next pol", async () => {
    const server = p.servers["@alice"]!;
    const original = await alice.execute("llookup:public:signing_publickey@alice");
    server.ctx.keys.put("public:signing_publickey@alice", "c2lnbmF0dXJl", { ttl: 60_000 });
    const carol = await p.owner("@carol");
    await carol.execute("update:@alice:k@carol from-carol");
    // carol has never verified alice: it fetches alice's signing key now.
    expect(await alice.execute("lookup:k@carol")).to.equal("from-carol");
    expect(await alice.execute("llookup:public:signing_publickey@alice")).to.equal(original);
    const meta = JSON.parse(await alice.execute("llookup:meta:public:signing_publickey@alice"));
    expect(meta).to.not.have.property("expiresAt");
  });

  it("H2: a missing signing key pair is created again and alice's pol works", async () => {
    const server = p.servers["@alice"]!;
    const original = await alice.execute("llookup:public:signing_publickey@alice");
    server.ctx.keys.delete("public:signing_publickey@alice");
    server.ctx.keys.delete("@alice:signing_privatekey@alice");
    const dave = await p.owner("@dave");
    await dave.execute("update:@alice:k@dave from-dave");
    expect(await alice.execute("lookup:k@dave")).to.equal("from-dave");
    const now = await alice.execute("llookup:public:signing_publickey@alice");
    expect(now).to.not.equal(original);
    expect(now).to.match(/^MIIB/);
  });

  it("H2: a signing public key lost while the server was down is restored at start, logged as an error", async () => {
    const s = await startServer();
    try {
      const pub = s.server.ctx.keys.find("public:signing_publickey@alice")!.value;
      s.server.ctx.keys.delete("public:signing_publickey@alice");
      await s.server.stop();
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const again = AtServer.create(s.server.config, { logger: pino({ level: "warn" }, sink) });
      await again.start();
      await again.settled();
      try {
        expect(again.ctx.keys.find("public:signing_publickey@alice")?.value).to.equal(pub);
        const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level >= 50);
        expect(errors.map((e) => e.msg).join("\n")).to.match(/signing public key was missing/);
      } finally {
        await again.stop();
      }
    } finally {
      await s.stop();
    }
  });

  it("H3: on a pol connection from @mallory a notification for bob's key is refused and alice's cache of bob is untouched", async () => {
    const c = await mallory.polAs("@alice");
    expect(await c.send("notify:update:ttr:-1:@alice:secret.app@bob:POISONED")).to.match(
      /^error:AT0009/,
    );
    expect(await alice.send("llookup:cached:@alice:secret.app@bob")).to.not.include("POISONED");
    expect(await alice.execute("lookup:secret.app@bob")).to.equal("real-secret");
    // Its own keys are still fine.
    expect(await c.send("notify:update:ttr:-1:@alice:hello@mallory:hi")).to.match(/^data:success/);
    expect(await alice.execute("llookup:cached:@alice:hello@mallory")).to.equal("hi");
  });

  it("M2: a client certificate for the right host that does not chain to our CA fails from: (self-signed, or from a self-made CA)", async () => {
    const rogue = await createCertificateAuthority({ commonName: "127.0.0.1" });
    const leaf = await issueServerCertificate(rogue, { names: ["127.0.0.1", "localhost"] });
    // Without the clientAuth usage OpenSSL reports only INVALID_PURPOSE, hiding the untrusted
    // chain: the chain is verified again, so these fail as well.
    const serverOnly = await issueServerCertificate(rogue, {
      names: ["127.0.0.1"],
      clientAuth: false,
    });
    const withChain = { ...serverOnly, cert: serverOnly.cert + rogue.cert };
    for (const tls of [rogue, leaf, serverOnly, withChain]) {
      const c = await mallory.dial("@alice", tls);
      expect(await c.send("from:@mallory")).to.match(
        /^error:AT0401-Exception: Certificate Verification Failed/,
      );
    }
  });

  it("M2: a CA-valid certificate whose name only contains the peer's host fails from:; one without the clientAuth usage (ACME certificates) passes", async () => {
    const ca = await testCa();
    for (const names of [["127.0.0.1.evil.example"], ["x127.0.0.1"]]) {
      const cert = await issueServerCertificate(ca, { names, commonName: "127.0.0.1" });
      const c = await mallory.dial("@alice", cert);
      expect(await c.send("from:@mallory"), names[0]).to.match(
        /^error:AT0401-Exception: Certificate Verification Failed/,
      );
    }
    // Public ACME CAs no longer issue the clientAuth usage; atServers present their server
    // certificate as the client one, so a CA-valid server-only certificate is accepted...
    const serverOnly = await issueServerCertificate(ca, {
      names: ["127.0.0.1"],
      clientAuth: false,
    });
    const so = await mallory.dial("@alice", serverOnly);
    expect(await so.send("from:@mallory")).to.match(/^data:proof:/);
    // ...but only for the right host.
    const elsewhere = await issueServerCertificate(ca, {
      names: ["evil.example"],
      clientAuth: false,
    });
    const ew = await mallory.dial("@alice", elsewhere);
    expect(await ew.send("from:@mallory")).to.match(
      /^error:AT0401-Exception: Certificate Verification Failed/,
    );
    // The peer's proper certificate passes.
    const ok = await mallory.dial("@alice");
    expect(await ok.send("from:@mallory")).to.match(/^data:proof:/);
  });
});

describe("atserver federation: --pol-legacy-challenges false (issue 11: H1)", function () {
  this.timeout(60_000);
  let p: Platform;
  let mallory: MaliciousPeer;
  before(async () => {
    p = await startPlatform(["@alice"], {
      external: ["@mallory"],
      overrides: { polLegacyChallenges: false },
    });
    mallory = await MaliciousPeer.start({
      atSign: "@mallory",
      port: p.ports["@mallory"]!,
      cert: p.tls.cert,
      key: p.tls.key,
      ca: p.tls.ca,
      ports: p.ports,
    });
  });
  after(async () => {
    await mallory?.stop();
    await p?.stop();
  });

  it("the default signs legacy challenges (compatibility); the flag and its environment name turn it off", () => {
    const base = { atSign: "@alice", port: "0", cert: "c.pem", key: "k.pem", storage: "store" };
    expect(resolveConfig(base, {}).polLegacyChallenges).to.equal(true);
    expect(
      resolveConfig({ ...base, polLegacyChallenges: "false" }, {}).polLegacyChallenges,
    ).to.equal(false);
    expect(
      resolveConfig(base, { ATSERVER_POL_LEGACY_CHALLENGES: "false" }).polLegacyChallenges,
    ).to.equal(false);
  });

  it("H1: a bare-UUID challenge is not signed; one bound to the dialled peer is", async () => {
    const alice = await p.owner("@alice");
    const legacy = `_${randomUUID()}@alice`;
    mallory.script = (line) =>
      line === "from:@alice" ? `data:proof:${legacy}:${randomUUID()}\n@` : undefined;
    expect(await alice.send("lookup:anything@mallory")).to.match(/^error:AT0008/);
    const anon = await mallory.dial("@alice");
    expect(await anon.send(`lookup:${legacy}`)).to.match(/^error:AT0015/);
    const bound = `_${randomUUID()}@alice`;
    const challenge = boundChallenge("@mallory");
    mallory.script = (line) =>
      line === "from:@alice" ? `data:proof:${bound}:${challenge}\n@` : undefined;
    await alice.send("lookup:anything@mallory");
    const key = await anon.execute("lookup:signing_publickey@alice");
    expect(rsaVerify(key, challenge, await anon.execute(`lookup:${bound}`))).to.equal(true);
  });
});
