// Wrong credentials reveal nothing; random and hostile lines never crash or hang the server.
import { expect } from "chai";
import { cramDigest, signPkam, generateRsaKeyPair } from "@atplatform/protocol";
import { RawConn, SECRET, startServer, type Started } from "./harness";

/** xorshift32: a reproducible stream of pseudo-random numbers. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const VERBS = [
  "from:",
  "cram:",
  "pkam:",
  "pol",
  "update:",
  "update:meta:",
  "llookup:",
  "lookup:",
  "plookup:",
  "delete:",
  "scan",
  "stats",
  "config:",
  "monitor",
  "notify:",
  "sync:from:",
  "info",
  "noop:",
  "batch:",
  "enroll:",
  "@",
  ":",
  "",
];
const PIECES = [
  "public",
  "@alice",
  "@bob",
  "ttl",
  "ttb:-5",
  "ttr:0",
  "ccd:true",
  "isBinary:maybe",
  "privatekey:at_secret",
  "cached",
  "all",
  "meta",
  "🦄",
  "..",
  "::",
  "(a+)+$",
  "[",
  "\\",
  "%s%n",
  "\u0000",
  "\uFFFF",
  "x".repeat(300),
  '{"a":',
  '[{"id":1,"command":"batch:[]"}]',
  "99999999999999999999",
  "-1",
  " ",
];

function randomLine(r: () => number): string {
  let line = VERBS[Math.floor(r() * VERBS.length)]!;
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    line += PIECES[Math.floor(r() * PIECES.length)]! + (r() < 0.5 ? ":" : "");
    if (r() < 0.1) line += String.fromCharCode(Math.floor(r() * 0x2fff));
  }
  return line;
}

/** Replies on a raw connection: one per line, each ending in a prompt. */
function countReplies(text: string): number {
  return (text.match(/\n@(alice@)?/g) ?? []).length;
}

describe("atserver: hostile input and credentials", function () {
  this.timeout(30_000);
  let s: Started;
  before(async () => {
    s = await startServer();
    const o = await s.owner();
    await o.execute("update:@bob:secret.exists@alice s3cret");
    await o.execute("update:self.exists@alice mine");
    await o.execute("update:public:shown@alice hello");
  });
  after(async () => s.stop());

  it("wrong credentials never reveal whether a key exists", async () => {
    const c = await s.client();
    const ch = await c.from();
    expect(await c.send(`cram:${cramDigest("not the secret", ch)}`)).to.match(/^error:AT0401/);
    await c.from();
    expect(await c.send(`pkam:${signPkam(generateRsaKeyPair().privateKey, "x")}`)).to.match(
      /^error:AT0401/,
    );
    const pairs: Array<[string, string]> = [
      ["llookup:@bob:secret.exists@alice", "llookup:@bob:secret.missing@alice"],
      ["llookup:self.exists@alice", "llookup:self.missing@alice"],
      ["lookup:secret.exists@alice", "lookup:secret.missing@alice"],
      ["lookup:self.exists@alice", "lookup:self.missing@alice"],
      ["plookup:self.exists@alice", "plookup:self.missing@alice"],
      ["delete:self.exists@alice", "delete:self.missing@alice"],
      ["scan exists", "scan missing"],
    ];
    for (const [exists, missing] of pairs) {
      const a = (await c.send(exists)).replace(/exists/g, "X");
      const b = (await c.send(missing)).replace(/missing/g, "X");
      expect(a, exists).to.equal(b);
      expect(a).to.not.include("s3cret").and.not.include("mine");
    }
    // A peer that only said from:@bob (no pol) sees nothing of bob's shared keys either.
    const peer = await s.client();
    await peer.execute("from:@bob");
    expect((await peer.send("lookup:secret.exists@alice")).replace("exists", "X")).to.equal(
      (await peer.send("lookup:secret.missing@alice")).replace("missing", "X"),
    );
    // The owner still sees the data: the keys were really there.
    const o = await s.owner();
    expect(await o.execute("llookup:@bob:secret.exists@alice")).to.equal("s3cret");
  });

  it("2,000 random lines (pipelined, unauthenticated and authenticated) are all answered or cleanly refused", async () => {
    const r = rng(20261123);
    for (const auth of [false, true]) {
      let sent = 0;
      while (sent < 1000) {
        const c = await RawConn.open(s.port, s.tls.ca);
        await c.until((t) => t === "@");
        c.chunks.length = 0;
        if (auth) {
          c.write("from:@alice\n");
          const challenge = (await c.until((t) => t.endsWith("\n@"))).slice(5, -2);
          c.chunks.length = 0;
          c.write(`cram:${cramDigest(SECRET, challenge)}\n`);
          await c.until((t) => t.endsWith("\n@alice@"));
          c.chunks.length = 0;
        }
        const batch: string[] = [];
        for (let i = 0; i < 100; i++) {
          const line = randomLine(r);
          // Lines that end the connection or turn it into a monitor are exercised elsewhere.
          if (/^@exit|^monitor|^from:@?(?!alice)|^pol/i.test(line)) continue;
          batch.push(line.replace(/[\r\n]/g, ""));
        }
        c.write(batch.join("\n") + "\n");
        try {
          await c.until((t) => countReplies(t) >= batch.length, 10_000);
        } catch (err) {
          if (!c.closed) throw err;
          // Closing is an allowed answer (e.g. AT0005); it must come with an error line.
          expect(c.text).to.match(/error:AT\d{4}/);
        }
        c.destroy();
        sent += batch.length;
      }
    }
    const probe = await s.client();
    expect(await probe.execute("info:brief")).to.include("version");
  });

  it("regex bombs, invalid UTF-8 and NUL bytes are refused without hanging", async () => {
    const o = await s.owner();
    for (let i = 0; i < 30; i++) await o.execute(`update:public:${"a".repeat(40)}${i}@alice x`);
    // Catastrophic for a backtracking engine; answered at once here (linear-time engine).
    for (const cmd of [
      "scan (a+)+$",
      "scan ((a*)*)*b",
      "sync:from:-1:limit:5:(a|aa)+$",
      "scan .*.*.*.*.*.*.*.*.*x",
    ]) {
      expect(await o.send(cmd), cmd).to.match(/^data:/);
    }
    // Patterns the linear engine cannot run (back-references, look-arounds, big counted
    // repetitions) are refused.
    for (const cmd of ["scan (a)\\1", "scan a(?=b)", "scan:showHidden:true (.*a){20}"]) {
      expect(await o.send(cmd), cmd).to.match(/^error:AT0003-/);
    }
    const c = await RawConn.open(s.port, s.tls.ca);
    await c.until((t) => t === "@");
    c.chunks.length = 0;
    c.write(Buffer.from([0xff, 0xfe, 0x00, 0x0a]));
    c.write("info\u0000:brief\n");
    await c.until((t) => countReplies(t) >= 2);
    expect(c.text).to.match(/^error:AT0003-/);
    c.destroy();
    expect(await o.execute("info:brief")).to.include("version");
  });

  it("a client that never reads its answers does not grow the server without bound", async () => {
    const c = await RawConn.open(s.port, s.tls.ca);
    await c.until((t) => t === "@");
    c.socket.pause();
    const line = "info\n".repeat(20_000);
    for (let i = 0; i < 20; i++) c.write(line);
    await new Promise((r) => setTimeout(r, 300));
    c.destroy();
    const probe = await s.client();
    expect(await probe.execute("info:brief")).to.include("version");
  });
});
