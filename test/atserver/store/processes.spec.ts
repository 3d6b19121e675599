import { expect } from "chai";
import { KeyStore, StoreLockedError } from "../../../services/atserver/src/store";
import { StoreChild } from "./fixtures/child";
import { streamValue } from "./fixtures/stream-value";
import { TempStores } from "./fixtures/temp-store";

describe("atserver store: across processes", () => {
  const temp = new TempStores();
  const children: StoreChild[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    temp.cleanup();
  });

  function child(mode: string, dir: string): StoreChild {
    const c = StoreChild.start(mode, dir);
    children.push(c);
    return c;
  }

  it("a second process cannot open a store this process holds", async () => {
    const dir = temp.dir();
    const s = temp.open(dir);
    s.put("a@alice", "1", {});
    const c = child("try-open", dir);
    await c.waitFor((l) => l.length > 0);
    const out = JSON.parse(c.lines[0]) as { ok: boolean; name?: string; holder?: { pid: number } };
    expect(out.ok).to.equal(false);
    expect(out.name).to.equal("StoreLockedError");
    expect(out.holder?.pid).to.equal(process.pid);
    // The holder is unaffected.
    expect(s.get("a@alice")?.value).to.equal("1");
  });

  it("a refused second open in this process does not drop the lock (POSIX close semantics)", async () => {
    const dir = temp.dir();
    temp.open(dir);
    expect(() => KeyStore.open(dir)).to.throw(StoreLockedError);
    const c = child("try-open", dir);
    await c.waitFor((l) => l.length > 0);
    expect(JSON.parse(c.lines[0])).to.include({ ok: false, name: "StoreLockedError" });
  });

  it("this process cannot open a store a child holds, and can once the child is killed", async () => {
    const dir = temp.dir();
    const c = child("hold", dir);
    await c.waitFor((l) => l.includes("ready"));
    let err: unknown;
    try {
      KeyStore.open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(StoreLockedError);
    expect((err as StoreLockedError).holder?.pid).to.equal(c.proc.pid);
    expect((err as Error).message).to.match(/locked by another process \(held by pid \d+ on /);
    // kill -9 leaves no stale lock behind: the OS drops the child's lock with the process.
    await c.kill("SIGKILL");
    const s = temp.open(dir);
    expect(s.lastCommitId()).to.equal(-1);
  });

  it("two processes racing to create the same store: exactly one wins", async () => {
    const dir = temp.dir();
    const a = child("hold", dir);
    const b = child("hold", dir);
    const settled = (l: string[]) => l.includes("ready") || l.includes("locked");
    await Promise.all([a.waitFor(settled), b.waitFor(settled)]);
    const outcomes = [a.lines[0], b.lines[0]].sort();
    expect(outcomes).to.deep.equal(["locked", "ready"]);
  });

  it("a store closed cleanly by another process can be opened", async () => {
    const dir = temp.dir();
    const c = child("hold", dir);
    await c.waitFor((l) => l.includes("ready"));
    c.proc.stdin!.end();
    expect(await c.exited).to.equal(0);
    temp.open(dir);
  });

  it("every acknowledged write survives kill -9 in the middle of a stream", async () => {
    const dir = temp.dir();
    const c = child("write-stream", dir);
    await c.waitFor((l) => l.length >= 150);
    await c.kill("SIGKILL");
    const acks = c.lines
      .filter((l) => l.startsWith("ack "))
      .map((l) => l.split(" ").map(Number).slice(1) as [number, number]);
    expect(acks.length).to.be.at.least(150);
    const logged: string[] = [];
    const logger = {
      info: (_o: object, m?: string) => logged.push(`info ${m}`),
      warn: (_o: object, m?: string) => logged.push(`warn ${m}`),
    };
    const s = temp.open(dir, { logger });
    expect(logged).to.deep.equal(["warn store opened after an unclean shutdown (WAL replayed)"]);
    for (const [i, id] of acks) {
      const e = s.get(`w${i}@alice`);
      expect(e?.value, `w${i}`).to.equal(streamValue(i));
      expect(e?.commitId).to.equal(id);
      expect(e?.metadata).to.deep.equal({ i });
    }
    // Writes after the last ack may or may not be there, but never torn.
    const last = acks[acks.length - 1][0];
    for (let i = last + 1; i < last + 50; i++) {
      const e = s.get(`w${i}@alice`);
      if (e) expect(e.value).to.equal(streamValue(i));
    }
    expect(s.lastCommitId()).to.be.at.least(acks[acks.length - 1][1]);
    const inLog = new Set(s.commitsSince(-1).map((c) => c.id));
    for (const [, id] of acks) expect(inLog.has(id), `commit ${id}`).to.equal(true);
  });
});
