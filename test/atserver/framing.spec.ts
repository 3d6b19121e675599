import { expect } from "chai";
import { cramDigest } from "@atplatform/protocol";
import { RawConn, SECRET, startServer, type Started } from "./harness";

/** Connects raw, waits for the greeting, CRAM-authenticates when asked. */
async function raw(s: Started, auth = false): Promise<RawConn> {
  const c = await RawConn.open(s.port, s.tls.ca);
  await c.until((t) => t === "@");
  c.chunks.length = 0;
  if (auth) {
    c.write("from:@alice\n");
    const challenge = (await c.until((t) => t.endsWith("\n@"))).slice("data:".length, -2);
    c.chunks.length = 0;
    c.write(`cram:${cramDigest(SECRET, challenge)}\n`);
    await c.until((t) => t.endsWith("@alice@"));
    c.chunks.length = 0;
  }
  return c;
}

describe("atserver: connection and framing (Part A 1-3, Part B §2)", () => {
  let s: Started;
  const open: RawConn[] = [];
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    for (const c of open) c.destroy();
    await s.stop();
  });
  async function conn(auth = false): Promise<RawConn> {
    const c = await raw(s, auth);
    open.push(c);
    return c;
  }

  it("a new connection receives a lone @ as its own write", async () => {
    const c = await RawConn.open(s.port, s.tls.ca);
    open.push(c);
    await c.until((t) => t.length > 0);
    expect(c.chunks[0]).to.equal("@");
  });

  it("unauth responses end \\n@ and authenticated ones \\n@alice@, each in ONE write", async () => {
    const c = await conn();
    c.write("info:brief\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(c.chunks).to.have.length(1);
    expect(c.chunks[0]).to.match(/^data:\{"version":"[^"]+","uptimeAsMillis":\d+\}\n@$/);
    const a = await conn(true);
    a.write("update:public:framing@alice v\n");
    await a.until((t) => t.endsWith("\n@alice@"));
    expect(a.chunks).to.deep.equal([`${a.chunks[0]}`]);
    expect(a.chunks[0]).to.match(/^data:\d+\n@alice@$/);
  });

  it("strips CR/LF (at_c sends \\r\\n) and answers an empty line", async () => {
    const c = await conn();
    c.write("info:brief\r\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(c.text).to.match(/^data:\{/);
    c.chunks.length = 0;
    c.write("\r\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(c.text).to.match(/^error:AT0003-/);
  });

  it("processes commands that arrive together in order, one response each", async () => {
    const c = await conn(true);
    c.write(
      "update:public:p1@alice one\nupdate:public:p1@alice two\nllookup:public:p1@alice\nnoop:10\nllookup:public:p1@alice\n",
    );
    const text = await c.until((t) => t.split("\n@alice@").length === 6);
    const lines = text.split("\n@alice@").slice(0, 5);
    expect(lines[0]).to.match(/^data:\d+$/);
    expect(lines[1]).to.match(/^data:\d+$/);
    expect(lines[2]).to.equal("data:two");
    expect(lines[3]).to.equal("data:ok");
    expect(lines[4]).to.equal("data:two");
  });

  it("a command over 10 MB gets AT0005 and the connection closes", async () => {
    const c = await conn(true);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    c.write("update:public:big@alice ");
    for (let i = 0; i < 10 && !c.closed; i++) c.write(chunk);
    await c.waitClosed(10_000);
    expect(c.text).to.equal(
      "error:AT0005-Buffer limit exceeded : InboundBuffer overflow: server received request which exceeded the buffer size limit. Terminating the connection.\n",
    );
  });

  it("a value just under the limit is accepted", async () => {
    const c = await conn(true);
    const value = "b".repeat(10_000_000);
    c.write(`update:public:nearlimit@alice ${value}\n`);
    await c.until((t) => t.endsWith("\n@alice@"), 15_000);
    expect(c.text).to.match(/^data:\d+\n@alice@$/);
  });

  it("@exit closes the connection silently; exit/quit are not verbs", async () => {
    const c = await conn();
    c.write("quit\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(c.text).to.match(/^error:AT0003-/);
    c.chunks.length = 0;
    c.write("@exit\n");
    await c.waitClosed();
    expect(c.text).to.equal("");
  });

  it("unknown verbs are AT0003; clientConfig version > 3.0.37 switches to JSON errors", async () => {
    const c = await conn();
    c.write("lokup:x@alice\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(c.text).to.match(/^error:AT0003-Exception: /);
    c.chunks.length = 0;
    c.write('from:@alice:clientConfig:{"version":"3.0.57"}\n');
    await c.until((t) => t.endsWith("\n@"));
    c.chunks.length = 0;
    c.write("update:public:x@alice v\n");
    await c.until((t) => t.endsWith("\n@"));
    expect(JSON.parse(c.text.slice("error:".length, -2))).to.deep.equal({
      errorCode: "AT0401",
      errorDescription: "Exception: Command cannot be executed without auth",
    });
  });

  it("the inbound connection cap answers AT0012 without a greeting and closes", async () => {
    // Held by authenticated sessions: an unauthenticated one would make room (M1 reserve).
    const small = await startServer({ inboundMaxLimit: 2, ownerReservedConnections: 0 });
    const held: RawConn[] = [];
    try {
      held.push(await raw(small, true), await raw(small, true));
      const third = await RawConn.open(small.port, small.tls.ca);
      held.push(third);
      await third.waitClosed();
      expect(third.text).to.equal("error:AT0012-Inbound connection limit exceeded\n");
    } finally {
      for (const c of held) c.destroy();
      await small.stop();
    }
  });

  it("idle unauthenticated connections are closed after the idle limit; authenticated ones get longer", async () => {
    const idle = await startServer({ unauthIdleMs: 300, authIdleMs: 60_000 });
    try {
      const u = await raw(idle);
      const a = await raw(idle, true);
      await new Promise((r) => setTimeout(r, 500));
      // Reaping is lazy (reference): the idle connection's next command closes it without a reply.
      u.write("info:brief\n");
      await u.waitClosed();
      expect(u.text).to.equal("");
      a.write("info:brief\n");
      await a.until((t) => t.endsWith("@alice@"));
      a.destroy();
    } finally {
      await idle.stop();
    }
  });
});
