import { expect } from "chai";
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DB_FILE, KeyStore, StoreOpenError } from "../../../services/atserver/src/store";
import { TempStores, TestClock } from "./fixtures/temp-store";

describe("atserver store: arguments, errors and bounded work", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  it("rejects values, metadata and times of the wrong type without writing", () => {
    const s = temp.open();
    const put = s.put.bind(s) as (...a: unknown[]) => number;
    expect(() => put("k@alice", Buffer.from("x"), {})).to.throw(TypeError, /value/);
    expect(() => put("k@alice", 42, {})).to.throw(TypeError, /value/);
    expect(() => put("k@alice", "v", null)).to.throw(TypeError, /metadata/);
    expect(() => put("k@alice", "v", [])).to.throw(TypeError, /metadata/);
    expect(() => put("k@alice", "v", {}, { expiresAt: NaN })).to.throw(TypeError, /expiresAt/);
    expect(() => put("k@alice", "v", {}, { availableAt: "1" })).to.throw(TypeError);
    expect(() => put(42, "v", {})).to.throw(TypeError, /key/);
    expect(s.lastCommitId()).to.equal(-1);
    expect([...s.keys()]).to.deep.equal([]);
  });

  it("a path that cannot hold a store gives StoreOpenError naming it", () => {
    const dir = temp.dir();
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    expect(() => KeyStore.open(file)).to.throw(StoreOpenError, file);
  });

  it("a file that is not a database gives StoreOpenError", () => {
    const dir = temp.dir();
    writeFileSync(join(dir, DB_FILE), "this is not sqlite, just text long enough ".repeat(50));
    expect(() => KeyStore.open(dir)).to.throw(StoreOpenError, dir);
  });

  it("sweepExpired(maxRows) bounds the work of one call", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now, synchronous: "normal" });
    for (let i = 0; i < 700; i++) s.put(`e${i}@alice`, "v", {}, { expiresAt: clock.t + 1 });
    clock.advance(1);
    expect(s.sweepExpired(600)).to.equal(600);
    expect(s.sweepExpired(0)).to.equal(0);
    expect(s.sweepExpired(600)).to.equal(100);
    expect([...s.keys({ now: 0 })]).to.deep.equal([]);
  });

  it("pruneTombstones(before) drops only old delete records", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now });
    s.put("a@alice", "1", {});
    s.put("b@alice", "1", {});
    s.delete("b@alice"); // tombstone at t0
    clock.advance(1000);
    s.put("c@alice", "1", {});
    s.delete("c@alice"); // tombstone at t0 + 1000
    expect(s.pruneTombstones(clock.t)).to.equal(1);
    expect(s.commitsSince(-1).map((c) => [c.key, c.operation])).to.deep.equal([
      ["a@alice", "update"],
      ["c@alice", "delete"],
    ]);
    expect(s.put("d@alice", "1", {})).to.equal(5);
  });

  it("commitsWithEntriesSince(id, limit, maxChars) stops at the size budget, at least one", () => {
    const s = temp.open();
    const big = "x".repeat(100_000);
    for (let i = 0; i < 5; i++) s.put(`k${i}@alice`, big, {});
    expect(s.commitsWithEntriesSince(-1, 100, 250_000).map((c) => c.id)).to.deep.equal([0, 1, 2]);
    expect(s.commitsWithEntriesSince(-1, 100, 1).map((c) => c.id)).to.deep.equal([0]);
    expect(s.commitsWithEntriesSince(-1, 2)).to.have.length(2);
    expect(s.commitsWithEntriesSince(-1)).to.have.length(5);
  });
});

describe("atserver store: batch (group commit) and integrity", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  it("batch() commits many writes together and returns fn's result", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    const ids = s.batch(() => {
      const out: number[] = [];
      for (let i = 0; i < 50; i++) out.push(s.put(`b${i}@alice`, String(i), {}));
      out.push(s.delete("b0@alice")!);
      s.setSetting("flag", "1");
      return out;
    });
    expect(ids).to.deep.equal([...Array(51).keys()]);
    s.close();
    const s2 = temp.open(dir);
    expect([...s2.keys()]).to.have.length(49);
    expect(s2.getSetting("flag")).to.equal("1");
    expect(s2.lastCommitId()).to.equal(50);
  });

  it("a batch that throws writes nothing and hands its commit ids out again", () => {
    const s = temp.open();
    s.put("keep@alice", "1", {});
    expect(() =>
      s.batch(() => {
        s.put("x@alice", "1", {});
        s.delete("keep@alice");
        throw new Error("abort");
      }),
    ).to.throw("abort");
    expect(s.get("keep@alice")?.value).to.equal("1");
    expect(s.peek("x@alice")).to.equal(undefined);
    expect(s.lastCommitId()).to.equal(0);
    expect(s.put("y@alice", "1", {})).to.equal(1);
  });

  it("a nested batch that throws is undone alone when the outer one catches it", () => {
    const s = temp.open();
    s.batch(() => {
      s.put("outer@alice", "1", {});
      try {
        s.batch(() => {
          s.put("inner@alice", "1", {});
          throw new Error("inner");
        });
      } catch {
        // the outer batch goes on
      }
    });
    expect(s.get("outer@alice")?.value).to.equal("1");
    expect(s.peek("inner@alice")).to.equal(undefined);
  });

  it("checkIntegrity() reports a damaged page", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir, { synchronous: "normal" });
    s.batch(() => {
      for (let i = 0; i < 2000; i++) s.put(`k${i}@alice`, "v".repeat(100), {});
    });
    s.close();
    const fd = openSync(join(dir, DB_FILE), "r+");
    try {
      // Scribble over the middle of a b-tree page, past page 1 (the header and schema).
      writeSync(fd, Buffer.alloc(2000, 0xa5), 0, 2000, 4096 * 20 + 1000);
    } finally {
      closeSync(fd);
    }
    const damaged = temp.open(dir);
    expect(damaged.checkIntegrity()).to.not.deep.equal([]);
  });

  it("checkIntegrity() reports a sound store as []", () => {
    const s = temp.open();
    s.put("a@alice", "x".repeat(50_000), {});
    expect(s.checkIntegrity()).to.deep.equal([]);
  });
});
