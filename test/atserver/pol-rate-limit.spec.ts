import { expect } from "chai";
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
    // The same IP claiming another atSign is limited too (per-IP budget used up).
    expect(await again.send("from:@carol")).to.match(/too many handshakes/);
  });
});
