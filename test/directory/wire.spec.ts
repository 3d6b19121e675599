// Exact bytes of the root protocol over real TLS (file store, short throttle delay).
import { expect } from "chai";
import { startDirectory, greeted, RawClient, sleep, type TestDirectory } from "./helpers";

const RECORDS = {
  alice: "alice.example.test:6464",
  "bob🛠": "10.0.0.2:25000",
  carol: "carol.example.test:1",
};

describe("directory wire protocol (exact bytes)", () => {
  let dir: TestDirectory;
  const clients: RawClient[] = [];
  const client = async () => {
    const c = await greeted(dir.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await startDirectory(RECORDS, { throttleDelayMs: 150, ipMissBudget: 0 });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await dir.stop();
  });

  it("greets with a single '@' and nothing else", async () => {
    const c = await RawClient.connect(dir.port);
    clients.push(c);
    await c.waitForBytes(1);
    await sleep(50);
    expect(c.text).to.equal("@");
  });

  it("answers a known atSign with host:port CRLF @", async () => {
    const c = await client();
    expect(await c.lookup("alice")).to.equal("alice.example.test:6464\r\n@");
    expect(await c.lookup("bob🛠")).to.equal("10.0.0.2:25000\r\n@");
    expect(c.text).to.equal("@alice.example.test:6464\r\n@10.0.0.2:25000\r\n@");
  });

  it("answers an unknown atSign with null CRLF @", async () => {
    const c = await client();
    expect(await c.lookup("nobody")).to.equal("null\r\n@");
  });

  it("lower-cases the lookup", async () => {
    const c = await client();
    expect(await c.lookup("ALICE")).to.equal("alice.example.test:6464\r\n@");
    expect(await c.lookup("CaRoL")).to.equal("carol.example.test:1\r\n@");
  });

  it("accepts CRLF line endings", async () => {
    const c = await client();
    expect(await c.lookup("alice\r")).to.equal("alice.example.test:6464\r\n@");
  });

  it("does not strip a leading '@' (reference behaviour: '@alice' is unknown)", async () => {
    const c = await client();
    expect(await c.lookup("@alice")).to.equal("null\r\n@");
  });

  it("answers an empty line with a bare prompt, not counted as unknown", async () => {
    const c = await client();
    c.send("\r\n");
    await c.waitForBytes(2);
    await sleep(30);
    expect(c.text).to.equal("@@");
    expect(await c.lookup("nobody")).to.equal("null\r\n@");
  });

  it("closes on @exit without a reply (any case)", async () => {
    for (const line of ["@exit\n", "@EXIT\r\n"]) {
      const c = await client();
      c.send(line);
      await c.waitForClose();
      expect(c.text).to.equal("@");
    }
  });

  it("ignores lines after @exit in the same read", async () => {
    const c = await client();
    c.send("alice\n@exit\nalice\n");
    await c.waitForClose();
    expect(c.text).to.equal("@alice.example.test:6464\r\n@");
  });

  it("answers a client that half-closes after sending its lookups", async () => {
    const c = await client();
    c.socket.end("ALICE\nnobody\n");
    await c.waitForClose();
    expect(c.text).to.equal("@alice.example.test:6464\r\n@null\r\n@");
  });

  it("serves many lookups on one connection", async () => {
    const c = await client();
    for (let i = 0; i < 50; i++) {
      expect(await c.lookup(i % 2 ? "alice" : "carol")).to.match(/^[a-z.]+:\d+\r\n@$/);
    }
  });

  it("answers pipelined lookups one by one, in order", async () => {
    const c = await client();
    c.send("alice\nCAROL\r\nbob🛠\nnobody\nalice\n");
    const expected =
      "@" +
      "alice.example.test:6464\r\n@" +
      "carol.example.test:1\r\n@" +
      "10.0.0.2:25000\r\n@" +
      "null\r\n@" +
      "alice.example.test:6464\r\n@";
    await c.waitForBytes(Buffer.byteLength(expected));
    await sleep(30);
    expect(c.received.toString("utf8")).to.equal(expected);
  });

  it("answers a lookup split across TCP writes", async () => {
    const c = await client();
    c.send("al");
    await sleep(20);
    c.send("ICE\r");
    await sleep(20);
    c.send("\n");
    await c.waitForBytes(1 + "alice.example.test:6464\r\n@".length);
    expect(c.text).to.equal("@alice.example.test:6464\r\n@");
  });

  it("accepts a 255-byte line and closes on a longer one without a reply", async () => {
    const ok = await client();
    expect(await ok.lookup("a".repeat(255))).to.equal("null\r\n@");
    const long = await client();
    long.send("b".repeat(256) + "\n");
    await long.waitForClose();
    expect(long.text).to.equal("@");
    const endless = await client();
    endless.send("c".repeat(300));
    await endless.waitForClose();
    expect(endless.text).to.equal("@");
  });

  it("answers lines before an oversized one, then closes", async () => {
    const c = await client();
    c.send("alice\n" + "x".repeat(400) + "\nalice\n");
    await c.waitForClose();
    expect(c.text).to.equal("@alice.example.test:6464\r\n@");
  });

  it("answers garbage bytes and control characters with null, and keeps serving", async () => {
    const c = await client();
    c.send(Buffer.from([0xff, 0xfe, 0x80, 0x0a]));
    await c.waitForBytes(1 + 7);
    expect(c.text).to.equal("@null\r\n@");
    const d = await client();
    expect(await d.lookup("al\u0001ice")).to.equal("null\r\n@");
    const e = await client();
    expect(await e.lookup("alice")).to.equal("alice.example.test:6464\r\n@");
  });

  it("throttles per connection: 2nd unknown delayed, 3rd closes without a reply", async () => {
    const c = await client();
    expect(await c.lookup("u1")).to.equal("null\r\n@");
    expect(await c.lookup("alice")).to.equal("alice.example.test:6464\r\n@");
    const t0 = Date.now();
    expect(await c.lookup("u2")).to.equal("null\r\n@");
    expect(Date.now() - t0).to.be.at.least(140);
    expect(await c.lookup("alice")).to.equal("alice.example.test:6464\r\n@");
    const before = c.received.length;
    c.send("u3\n");
    await c.waitForClose();
    expect(c.received.length).to.equal(before);
    expect(c.text).to.equal(
      "@null\r\n@alice.example.test:6464\r\n@null\r\n@alice.example.test:6464\r\n@",
    );
    // A new connection starts with a fresh counter.
    const fresh = await client();
    expect(await fresh.lookup("u4")).to.equal("null\r\n@");
  });

  it("keeps pipelined answers in order across a throttle delay", async () => {
    const c = await client();
    c.send("u1\nu2\nalice\n");
    const expected = "@null\r\nnull\r\n@alice.example.test:6464\r\n@".replace(
      "null\r\nnull",
      "null\r\n@null",
    );
    await c.waitForBytes(expected.length);
    expect(c.text).to.equal(expected);
  });
});

describe("directory throttle with the reference defaults (3 s)", () => {
  let dir: TestDirectory;
  before(async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { throttleDelayMs: 3000 });
  });
  after(async () => dir.stop());

  it("delays the 2nd unknown by 3 s and closes on the 3rd after another 3 s", async function () {
    this.timeout(15_000);
    const c = await greeted(dir.port);
    try {
      expect(await c.lookup("u1")).to.equal("null\r\n@");
      const t0 = Date.now();
      expect(await c.lookup("u2", 6000)).to.equal("null\r\n@");
      expect(Date.now() - t0).to.be.at.least(2900);
      const t1 = Date.now();
      c.send("u3\n");
      await c.waitForClose(6000);
      expect(Date.now() - t1).to.be.at.least(2900);
      expect(c.text).to.equal("@null\r\n@null\r\n@");
    } finally {
      c.close();
    }
  });
});
