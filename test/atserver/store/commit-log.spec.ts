import { expect } from "chai";
import { KeyStore, isLoggedKey } from "../../../services/atserver/src/store";
import { TempStores, TestClock } from "./fixtures/temp-store";

describe("atserver store: commit log", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  it("ids start at 0 and increase by one per logged change", () => {
    const s = temp.open();
    expect(s.lastCommitId()).to.equal(-1);
    expect(s.commitsSince(-1)).to.deep.equal([]);
    expect(s.put("a@alice", "1", {})).to.equal(0);
    expect(s.updateMetadata("a@alice", {})).to.equal(1);
    expect(s.put("b@alice", "1", {})).to.equal(2);
    expect(s.delete("a@alice")).to.equal(3);
    expect(s.lastCommitId()).to.equal(3);
  });

  it("records id, key, operation and time", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now });
    s.put("a@alice", "1", {});
    clock.advance(10);
    s.put("b@alice", "1", {});
    clock.advance(10);
    s.updateMetadata("b@alice", {});
    clock.advance(10);
    s.delete("a@alice");
    expect(s.commitsSince(-1)).to.deep.equal([
      { id: 2, key: "b@alice", operation: "update_meta", at: clock.t - 10 },
      { id: 3, key: "a@alice", operation: "delete", at: clock.t },
    ]);
  });

  it("is compacted to the latest commit per key", () => {
    const s = temp.open();
    for (let i = 0; i < 5; i++) s.put("public:x@alice", String(i), {});
    s.put("public:y@alice", "y", {});
    expect(s.commitsSince(-1)).to.have.length(2);
    expect(s.commitsSince(-1).map((c) => [c.key, c.id])).to.deep.equal([
      ["public:x@alice", 4],
      ["public:y@alice", 5],
    ]);
  });

  it("never hands out an id twice, even when the newest row is compacted away", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    s.put("a@alice", "1", {}); // 0
    s.put("b@alice", "1", {}); // 1
    s.put("b@alice", "2", {}); // 2 replaces 1
    s.put("b@alice", "3", {}); // 3 replaces 2: MAX(id)+1 would now be reused
    s.close();
    const s2 = temp.open(dir);
    expect(s2.put("c@alice", "1", {})).to.equal(4);
    expect(s2.commitsSince(-1).map((c) => c.id)).to.deep.equal([0, 3, 4]);
  });

  it("commitsSince(n) returns ids > n in order, up to limit", () => {
    const s = temp.open();
    for (let i = 0; i < 10; i++) s.put(`k${i}@alice`, "v", {});
    expect(s.commitsSince(4).map((c) => c.id)).to.deep.equal([5, 6, 7, 8, 9]);
    expect(s.commitsSince(4, 2).map((c) => c.id)).to.deep.equal([5, 6]);
    expect(s.commitsSince(9)).to.deep.equal([]);
    expect(() => s.commitsSince(0, -1)).to.throw(RangeError);
  });

  it("commitsWithEntriesSince joins the current row; deletes carry no entry", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now });
    s.put("a@alice", "1", { v: 1 }, { expiresAt: clock.t + 100 });
    s.put("b@alice", "2", {});
    s.delete("b@alice");
    const out = s.commitsWithEntriesSince(-1);
    expect(out).to.have.length(2);
    expect(out[0]).to.deep.include({ id: 0, key: "a@alice", operation: "update" });
    expect(out[0].entry).to.deep.equal({
      key: "a@alice",
      value: "1",
      metadata: { v: 1 },
      expiresAt: clock.t + 100,
      availableAt: null,
      commitId: 0,
    });
    expect(out[1]).to.deep.include({ id: 2, key: "b@alice", operation: "delete", entry: null });
    expect(s.commitsWithEntriesSince(0, 1).map((c) => c.id)).to.deep.equal([2]);
  });

  it("does not log private, privatekey, local and hidden public keys; skipCommit skips", () => {
    const s = temp.open();
    expect(s.put("privatekey:at_secret", "x", {})).to.equal(-1);
    expect(s.put("private:blocklist@alice", "x", {})).to.equal(-1);
    expect(s.put("local:x@alice", "x", {})).to.equal(-1);
    expect(s.put("public:_hidden@alice", "x", {})).to.equal(-1);
    expect(s.put("x.__manage@alice", "x", {}, { skipCommit: true })).to.equal(-1);
    expect(s.get("privatekey:at_secret")?.commitId).to.equal(-1);
    expect(s.delete("privatekey:at_secret")).to.equal(-1);
    expect(s.updateMetadata("local:x@alice", {})).to.equal(-1);
    expect(s.lastCommitId()).to.equal(-1);
    expect(s.put("public:__synced@alice", "x", {})).to.equal(0);
    expect(s.put("_latestnotificationidv2@alice", "x", {})).to.equal(1);
    expect(s.commitsSince(-1).map((c) => c.key)).to.deep.equal([
      "public:__synced@alice",
      "_latestnotificationidv2@alice",
    ]);
  });

  it("isLoggedKey follows the protocol's list", () => {
    expect(isLoggedKey("public:phone@alice")).to.equal(true);
    expect(isLoggedKey("@bob:phone@alice")).to.equal(true);
    expect(isLoggedKey("cached:public:x@bob")).to.equal(true);
    expect(isLoggedKey("public:__x@alice")).to.equal(true);
    expect(isLoggedKey("public:_x@alice")).to.equal(false);
    expect(isLoggedKey("private:x@alice")).to.equal(false);
    expect(isLoggedKey("privatekey:x")).to.equal(false);
    expect(isLoggedKey("local:x@alice")).to.equal(false);
  });
});
