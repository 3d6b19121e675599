import { expect } from "chai";
import { HandshakeLimiter } from "../../services/atserver/src/federation/handshake-limiter";
import { IP_WEIGHT } from "../../services/atserver/src/federation/federation";
import { resolveConfig } from "../../services/atserver/src/config";
import { startPlatform, type Platform } from "./federation-harness";

describe("atserver: inbound pol handshakes are rate limited per peer and IP (Part B §5.3)", function () {
  this.timeout(30_000);
  let p: Platform;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"], { overrides: { polHandshakesPerMinute: 3 } });
  });
  after(async () => p.stop());

  it("the default is 30 per minute", () => {
    const cfg = resolveConfig(
      { atSign: "@alice", port: "0", cert: "c.pem", key: "k.pem", storage: "store" },
      {},
    );
    expect(cfg.polHandshakesPerMinute).to.equal(30);
  });

  it("after 3 from:@bob in a minute the 4th (on any connection) is refused before any directory lookup", async () => {
    const c = await p.client("@alice", { cert: p.tls.cert, key: p.tls.key });
    for (let i = 0; i < 3; i++) expect(await c.send("from:@bob")).to.match(/^data:proof:/);
    expect(await c.send("from:@bob")).to.match(
      /^error:AT0401-Exception: Pol Authentication Failed: too many handshakes/,
    );
    const again = await p.client("@alice", { cert: p.tls.cert, key: p.tls.key });
    expect(await again.send("from:@bob")).to.match(/too many handshakes/);
    // Another atSign from the same IP has its own budget: the per-IP one is larger, since
    // a routing mesh or NAT puts many peers behind one address.
    expect(await again.send("from:@bob")).to.match(/too many handshakes/);
    expect(await again.send("from:@carol")).to.not.match(/too many handshakes/);
  });

  it("the per-IP budget is IP_WEIGHT times the per-atSign one", () => {
    let t = 0;
    const limiter = new HandshakeLimiter(3, () => t);
    const ip: [string, number] = ["ip:10.0.0.1", IP_WEIGHT];
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (limiter.allow(`as:@peer${i}`, ip)) allowed++;
    expect(allowed).to.equal(3 * IP_WEIGHT);
    expect(limiter.allow("as:@peer0")).to.equal(true); // its own budget, without the IP
    t += 60_001;
    expect(limiter.allow("as:@late", ip)).to.equal(true); // the window moved on
  });
});
