// Upstream mode: a private directory that forwards misses to a second, in-process
// directory over real TLS, and caches the positive answers.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:tls";
import { expect } from "chai";
import pino from "pino";
import { StoreUnavailableError, UpstreamStore } from "@atplatform/directory";
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

describe("directory upstream connection pool", () => {
  // A slow upstream root: greets, then answers every line after 150 ms.
  async function slowRoot(): Promise<{ port: number; connections: () => number; close(): void }> {
    const tls = await testTls();
    let connections = 0;
    const server = createServer(
      { cert: readFileSync(tls.files.cert), key: readFileSync(tls.files.key) },
      (socket) => {
        connections++;
        socket.on("error", () => undefined);
        socket.write("@");
        socket.on("data", (d: Buffer) => {
          const name = d.toString().trim();
          setTimeout(() => socket.write(`${name}.slow.test:1\r\n@`), 150);
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
      port: (server.address() as AddressInfo).port,
      connections: () => connections,
      close: () => server.close(),
    };
  }

  async function upstreamOf(
    port: number,
    pool: { connections: number; maxQueue?: number },
  ): Promise<UpstreamStore> {
    const tls = await testTls();
    return new UpstreamStore({
      address: `localhost:${port}`,
      ca: readFileSync(tls.files.ca, "utf8"),
      timeoutMs: 3000,
      log: pino({ level: "silent" }),
      ...pool,
    });
  }

  it("asks the upstream over several connections at once, one lookup per connection", async () => {
    const root = await slowRoot();
    const store = await upstreamOf(root.port, { connections: 4 });
    try {
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.lookup(`user${i}`)),
      );
      const elapsed = Date.now() - started;
      expect(answers).to.deep.equal(Array.from({ length: 8 }, (_, i) => `user${i}.slow.test:1`));
      expect(root.connections()).to.equal(4);
      // Two rounds of 150 ms over 4 lanes, not eight in a row (1.2 s).
      expect(elapsed).to.be.below(900);
    } finally {
      await store.close();
      root.close();
    }
  });

  it("bounds the lookups waiting for a connection (beyond: store unavailable, not null)", async () => {
    const root = await slowRoot();
    const store = await upstreamOf(root.port, { connections: 1, maxQueue: 2 });
    try {
      const results = await Promise.allSettled(
        ["a", "b", "c", "d"].map((name) => store.lookup(name)),
      );
      expect(results.map((r) => r.status)).to.deep.equal([
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "rejected",
      ]);
      const failed = results[3] as PromiseRejectedResult;
      expect(failed.reason).to.be.instanceOf(StoreUnavailableError);
    } finally {
      await store.close();
      root.close();
    }
  });
});
