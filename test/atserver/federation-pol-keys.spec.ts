// Inbound pol (Part B §5.3 step 6): alice's server caches the signing public key of a peer, so
// a burst of handshakes from @bob fetches it once, and picks up a rotated key by fetching
// again once when a signature does not verify with the cached one.
import { expect } from "chai";
import { generateRsaKeyPair, rsaSign } from "@atplatform/protocol";
import type { Federation } from "../../services/atserver/src/federation/federation";
import { startPlatform, type Platform } from "./federation-harness";

describe("atserver federation: peers' signing keys for pol are cached (Part B §5.3)", function () {
  this.timeout(20_000);
  let p: Platform;
  let fed: Federation;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"]);
    fed = p.servers["@alice"]!.ctx.peers as Federation;
    const bob = p.servers["@bob"]!.ctx.keys;
    const deadline = Date.now() + 10_000;
    while (!bob.find("@bob:signing_privatekey@bob")) {
      if (Date.now() > deadline) throw new Error("bob's signing key was not created");
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => p.stop());

  /**
   * One handshake as @bob's server does it: from:@bob to alice, the proof signed with
   * `privateKey` published on bob's server as public:<session>@bob, then pol.
   */
  async function handshake(privateKey?: string): Promise<string> {
    const bob = p.servers["@bob"]!.ctx.keys;
    const c = await p.client("@alice", { cert: p.tls.cert, key: p.tls.key });
    const proof = await c.execute("from:@bob");
    const [, session, nonce] = /^proof:([^:]+):(.+)$/.exec(proof)!;
    const key = privateKey ?? bob.find("@bob:signing_privatekey@bob")!.value!;
    bob.put(`public:${session}`, rsaSign(key, nonce!.trim()), { ttl: 60_000 });
    const reply = await c.send("pol");
    c.destroy();
    return reply;
  }

  it("five handshakes from @bob fetch bob's signing key once", async () => {
    fed.peerKeys.delete("@bob");
    const before = fed.peerKeyFetches;
    for (let i = 0; i < 5; i++) expect(await handshake()).to.equal("@bob@");
    expect(fed.peerKeyFetches - before).to.equal(1);
  });

  it("a rotated key is fetched again once and then used from the cache", async () => {
    const bob = p.servers["@bob"]!.ctx.keys;
    const rotated = generateRsaKeyPair();
    bob.putInternal("public:signing_publickey@bob", rotated.publicKey);
    bob.putInternal("@bob:signing_privatekey@bob", rotated.privateKey);
    const before = fed.peerKeyFetches;
    expect(await handshake()).to.equal("@bob@");
    expect(fed.peerKeyFetches - before).to.equal(1);
    expect(await handshake()).to.equal("@bob@");
    expect(fed.peerKeyFetches - before).to.equal(1);
    expect(fed.peerKeys.get("@bob")).to.equal(rotated.publicKey);
  });

  it("a signature by another key is refused after one fresh fetch", async () => {
    const before = fed.peerKeyFetches;
    expect(await handshake(generateRsaKeyPair().privateKey)).to.match(
      /^error:AT0401-Exception: Pol Authentication Failed/,
    );
    expect(fed.peerKeyFetches - before).to.equal(1);
  });

  it("bob's notifications still reach alice (bob's own outbound pol signs with the rotated key)", async () => {
    const alice = await p.owner("@alice");
    const bob = await p.owner("@bob");
    const id = await bob.execute("notify:update:@alice:after.rotation@bob:v");
    const deadline = Date.now() + 10_000;
    while ((await bob.execute(`notify:status:${id}`)) !== "delivered") {
      if (Date.now() > deadline) throw new Error("not delivered");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await alice.execute("notify:list:after.rotation")).to.include(
      '"key":"@alice:after.rotation@bob"',
    );
  });
});
