import { expect } from "chai";
import { TempStores, TestClock } from "./fixtures/temp-store";

describe("atserver store: expiry and availability", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  function store() {
    const clock = new TestClock();
    return { clock, s: temp.open(undefined, { now: clock.now }) };
  }

  it("get() hides an entry from the moment expiresAt <= now", () => {
    const { clock, s } = store();
    s.put("k@alice", "v", {}, { expiresAt: clock.t + 1000 });
    clock.advance(999);
    expect(s.get("k@alice")?.value).to.equal("v");
    clock.advance(1);
    expect(s.get("k@alice")).to.equal(undefined);
    expect(s.peek("k@alice")?.value).to.equal("v");
  });

  it("get() hides an entry until availableAt <= now", () => {
    const { clock, s } = store();
    s.put("k@alice", "v", {}, { availableAt: clock.t + 2000, expiresAt: clock.t + 6000 });
    expect(s.get("k@alice")).to.equal(undefined);
    expect(s.peek("k@alice")?.availableAt).to.equal(clock.t + 2000);
    clock.advance(2000);
    expect(s.get("k@alice")?.value).to.equal("v");
    clock.advance(4000);
    expect(s.get("k@alice")).to.equal(undefined);
  });

  it("keys() hides expired and not-yet-available keys; filter.now overrides the clock", () => {
    const { clock, s } = store();
    s.put("live@alice", "v", {});
    s.put("expired@alice", "v", {}, { expiresAt: clock.t });
    s.put("unborn@alice", "v", {}, { availableAt: clock.t + 4000 });
    expect([...s.keys()]).to.deep.equal(["live@alice"]);
    expect([...s.keys({ now: clock.t - 1 })]).to.deep.equal(["expired@alice", "live@alice"]);
    clock.advance(4000);
    expect([...s.keys()]).to.deep.equal(["live@alice", "unborn@alice"]);
  });

  it("sweepExpired() deletes expired rows and logs deletes for logged keys only", () => {
    const { clock, s } = store();
    s.put("public:gone@alice", "v", {}, { expiresAt: clock.t + 10 });
    s.put("privatekey:gone", "v", {}, { expiresAt: clock.t + 10 });
    s.put("later@alice", "v", {}, { expiresAt: clock.t + 1000 });
    s.put("unborn@alice", "v", {}, { availableAt: clock.t + 1000 });
    const before = s.lastCommitId();
    expect(s.sweepExpired()).to.equal(0);
    clock.advance(10);
    expect(s.sweepExpired()).to.equal(2);
    expect(s.peek("public:gone@alice")).to.equal(undefined);
    expect(s.peek("privatekey:gone")).to.equal(undefined);
    expect(s.peek("later@alice")?.value).to.equal("v");
    expect(s.peek("unborn@alice")?.value).to.equal("v");
    expect(s.commitsSince(before)).to.deep.equal([
      { id: before + 1, key: "public:gone@alice", operation: "delete", at: clock.t },
    ]);
    expect(s.sweepExpired()).to.equal(0);
  });

  it("sweepExpired() works through more expired keys than one batch", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now, synchronous: "normal" });
    for (let i = 0; i < 1200; i++) s.put(`e${i}@alice`, "v", {}, { expiresAt: clock.t + 1 });
    s.put("stay@alice", "v", {});
    clock.advance(1);
    expect(s.sweepExpired()).to.equal(1200);
    expect([...s.keys({ now: 0 })]).to.deep.equal(["stay@alice"]);
    expect(s.commitsSince(-1).filter((c) => c.operation === "delete")).to.have.length(1200);
  });

  it("updateMetadata() does not revive an expired entry", () => {
    const { clock, s } = store();
    s.put("k@alice", "v", {}, { expiresAt: clock.t + 5 });
    clock.advance(5);
    expect(s.updateMetadata("k@alice", { x: 1 }, { expiresAt: null })).to.equal(undefined);
    expect(s.get("k@alice")).to.equal(undefined);
  });

  it("updateMetadata() may make an unborn entry available", () => {
    const { clock, s } = store();
    s.put("k@alice", "v", {}, { availableAt: clock.t + 5000 });
    expect(s.updateMetadata("k@alice", { x: 1 }, { availableAt: clock.t })).to.be.a("number");
    expect(s.get("k@alice")?.metadata).to.deep.equal({ x: 1 });
  });

  it("delete() of an expired but unswept row removes it and logs the delete", () => {
    const { clock, s } = store();
    s.put("k@alice", "v", {}, { expiresAt: clock.t + 5 });
    clock.advance(5);
    const id = s.delete("k@alice");
    expect(id).to.equal(1);
    expect(s.peek("k@alice")).to.equal(undefined);
  });
});
