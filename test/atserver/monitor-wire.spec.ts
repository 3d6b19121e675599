import { expect } from "chai";
import { cramDigest, type AtClient } from "@atplatform/protocol";
import { RawConn, SECRET, startServer, type Started } from "./harness";

/** A raw, CRAM-authenticated connection with the received text cleared. */
async function owner(s: Started): Promise<RawConn> {
  const c = await RawConn.open(s.port, s.tls.ca);
  await c.until((t) => t === "@");
  c.chunks.length = 0;
  c.write("from:@alice\n");
  const challenge = (await c.until((t) => t.endsWith("\n@"))).slice("data:".length, -2);
  c.chunks.length = 0;
  c.write(`cram:${cramDigest(SECRET, challenge)}\n`);
  await c.until((t) => t.endsWith("@alice@"));
  c.chunks.length = 0;
  return c;
}

/** How at_python's monitor reader classifies one line (Part C §1.12). */
function classify(line: string): string {
  if (line === "data:ok") return "heartbeat";
  if (line.startsWith("data:") || line.startsWith("error:")) return "exception";
  if (line.startsWith("notification:")) return "notification";
  return "malformed";
}

describe("atserver monitor wire bytes (Part B §3.18, Part C §1.12)", () => {
  let s: Started;
  let c: AtClient;
  const open: RawConn[] = [];
  before(async () => {
    s = await startServer({ testingMode: true });
    c = await s.owner();
  });
  after(async () => {
    for (const r of open) r.destroy();
    await s.stop();
  });

  for (const cmd of ["monitor:0 .*", "monitor:strict:multiplexed:0 .*", "monitor:strict .*"]) {
    it(`${cmd}: no reply; noop:0 → exactly "data:ok\\n"; the next notification line parses`, async () => {
      const m = await owner(s);
      open.push(m);
      m.write(`${cmd}\n`);
      m.write("noop:0\n");
      await m.until((t) => t.includes("data:ok\n"));
      // Nothing before the heartbeat ack (no monitor reply, no prompt) except replayed notifications.
      const before = m.text.slice(0, m.text.indexOf("data:ok\n"));
      for (const l of before.split("\n").filter((x) => x !== ""))
        expect(classify(l), l).to.equal("notification");
      m.chunks.length = 0;
      await c.execute(`update:public:hb${cmd.length}.k@alice v`);
      const text = await m.until((t) => /notification: \{[^\n]*"id":"-1"[^\n]*\}\n/.test(t));
      expect(text.startsWith("notification: {")).to.equal(true);
      for (const l of text.split("\n").filter((x) => x !== ""))
        expect(classify(l), l).to.equal("notification");
      // A second heartbeat after notifications: again exactly data:ok\n, no prompt.
      m.chunks.length = 0;
      m.write("noop:0\n");
      await m.until((t) => t.includes("data:ok\n"));
      await new Promise((r) => setTimeout(r, 100));
      expect(m.text.replace(/notification: [^\n]*\n/g, "")).to.equal("data:ok\n");
    });
  }

  it("strict and multiplexed do not change which notifications arrive (§3.18: parsed, ignored)", async () => {
    const plain = await owner(s);
    const flagged = await owner(s);
    open.push(plain, flagged);
    plain.write("monitor sameset\\.k\n");
    flagged.write("monitor:strict:multiplexed sameset\\.k\n");
    plain.write("noop:0\n");
    flagged.write("noop:0\n");
    await plain.until((t) => t.includes("data:ok\n"));
    await flagged.until((t) => t.includes("data:ok\n"));
    plain.chunks.length = 0;
    flagged.chunks.length = 0;
    await c.execute("notify:id:same-1:@alice:sameset.k@alice:v");
    const keys = (t: string) =>
      t
        .split("\n")
        .filter((l) => l.startsWith("notification: "))
        .map((l) => JSON.parse(l.slice("notification: ".length)) as { id: string; key: string })
        .filter((n) => n.id !== "-1")
        .map((n) => `${n.id} ${n.key}`);
    await plain.until((t) => keys(t).length > 0);
    await flagged.until((t) => keys(t).length > 0);
    expect(keys(flagged.text)).to.deep.equal(keys(plain.text));
    expect(keys(plain.text)).to.deep.equal(["same-1 @alice:sameset.k@alice"]);
  });
});
