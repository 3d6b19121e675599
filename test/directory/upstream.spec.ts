// Upstream mode: a private directory that forwards misses to a second, in-process
// directory over real TLS, and caches the positive answers.
import { expect } from "chai";
import { testTls } from "../support/test-ca";
import { greeted, startDirectory, type RawClient, type TestDirectory } from "./helpers";

describe("directory upstream mode", () => {
  let upstream: TestDirectory | undefined;
  let local: TestDirectory | undefined;
  const clients: RawClient[] = [];
  const client = async () => {
    const c = await greeted(local!.port);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    const tls = await testTls();
    upstream = await startDirectory(
      { bob: "bob.public.test:6000", alice: "alice.public.test:1" },
      { throttleDelayMs: 5000, ipMissBudget: 0 },
    );
    local = await startDirectory(
      { alice: "alice.private.lan:6464" },
      {
        upstream: `localhost:${upstream.port}`,
        upstreamCa: tls.files.ca,
        upstreamTimeoutMs: 3000,
        ipMissBudget: 0,
      },
    );
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await local?.stop();
    await upstream?.stop().catch(() => undefined);
  });

  it("answers local atSigns locally and forwards the rest", async () => {
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.private.lan:6464\r\n@");
    expect(await c.lookup("BOB")).to.equal("bob.public.test:6000\r\n@");
    expect(await c.lookup("nobody")).to.equal("null\r\n@");
  });

  it("does not trip the upstream's per-connection throttle on repeated misses", async () => {
    // The upstream delays a 2nd unknown by 5 s and closes on the 3rd; the local
    // directory replaces its upstream connection after every null, so with several
    // clients asking about unknown atSigns every answer still comes back promptly.
    for (let i = 0; i < 4; i++) {
      const c = await client();
      expect(await c.lookup(`ghost${i}`, 4000)).to.equal("null\r\n@");
    }
  });

  it("serves cached upstream answers when the upstream is gone, and closes on misses", async () => {
    const c = await client();
    expect(await c.lookup("bob")).to.equal("bob.public.test:6000\r\n@");
    await upstream!.stop();
    upstream = undefined;
    expect(await c.lookup("bob")).to.equal("bob.public.test:6000\r\n@");
    expect(await c.lookup("alice")).to.equal("alice.private.lan:6464\r\n@");
    // Unknown locally and the upstream unreachable: close, never a guessed null.
    c.send("carol\n");
    await c.waitForClose();
    expect(c.text).to.equal(
      "@bob.public.test:6000\r\n@bob.public.test:6000\r\n@alice.private.lan:6464\r\n@",
    );
  });
});
