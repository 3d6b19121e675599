// The in-process cache in front of Redis, with a fake inner store and a fake clock:
// TTL, stale-while-revalidate only while invalidations arrive, the max-stale bound,
// expireAll/invalidate, stale-if-error; and the MGET batcher behind the Redis store.
import { expect } from "chai";
import {
  CachingStore,
  GetBatcher,
  StoreUnavailableError,
  type DirectoryStore,
} from "@atplatform/directory";

class FakeStore implements DirectoryStore {
  readonly records = new Map<string, string>();
  calls = 0;
  failing = false;
  /** While set, answers wait for it (a slow replica), with the records as they were asked. */
  gate?: Promise<void>;
  lookup(atsign: string): Promise<string | null> {
    this.calls++;
    if (this.failing) return Promise.reject(new StoreUnavailableError("down"));
    const value = this.records.get(atsign) ?? null;
    return this.gate ? this.gate.then(() => value) : Promise.resolve(value);
  }
  ready = () => true;
  start = () => Promise.resolve();
  close = () => Promise.resolve();
}

/** Past the cache's 20 ms refresh batching, and the fake store's answers. */
const flush = () => new Promise((r) => setTimeout(r, 40));

describe("directory cache (stale-while-revalidate) and MGET batcher", () => {
  let now: number;
  let live: boolean;
  let inner: FakeStore;
  const cache = (ttlMs = 1000, maxStaleMs = 10_000) => {
    const c = new CachingStore({
      name: "redis",
      ttlMs,
      maxStaleMs,
      cacheNegative: true,
      invalidationsLive: () => live,
      now: () => now,
    });
    c.setInner(inner);
    return c;
  };

  beforeEach(() => {
    now = 0;
    live = true;
    inner = new FakeStore();
    inner.records.set("alice", "a.test:1");
  });

  it("H6: a value from the invalidation message is not undone by a replica read (queued or in flight)", async () => {
    const c = cache();
    expect(await c.lookup("newcomer")).to.equal(null); // cached as unknown
    now = 1500; // past the TTL: answered null, refreshed behind it
    expect(c.lookup("newcomer")).to.equal(null);
    // The message arrives before the queued refresh has read (a lagging replica).
    c.update("newcomer", "new.test:1");
    await flush();
    expect(c.lookup("newcomer")).to.equal("new.test:1");
    expect(inner.calls).to.equal(1); // the queued refresh was dropped
    // Again, with the refresh's read already in flight when the message arrives.
    c.update("later", null);
    now = 3000;
    let open!: () => void;
    inner.gate = new Promise((r) => (open = r));
    expect(c.lookup("later")).to.equal(null);
    await flush(); // the refresh is now reading
    expect(inner.calls).to.equal(2);
    c.update("later", "later.test:1");
    open();
    await flush();
    expect(c.lookup("later")).to.equal("later.test:1");
    c.update("later", null); // deleted: cached as unknown at once
    expect(c.lookup("later")).to.equal(null);
    expect(inner.calls).to.equal(2);
  });

  it("answers from the cache within the TTL, synchronously", async () => {
    const c = cache();
    expect(await c.lookup("alice")).to.equal("a.test:1");
    now = 999;
    expect(c.lookup("alice")).to.equal("a.test:1");
    expect(inner.calls).to.equal(1);
  });

  it("past the TTL, while invalidations arrive: answers at once, refreshes once in the background", async () => {
    const c = cache();
    await c.lookup("alice");
    inner.records.set("alice", "moved.test:2"); // a change whose message was lost
    now = 1500;
    expect(c.lookup("alice")).to.equal("a.test:1"); // the one lookup that queues the refresh
    expect(c.lookup("alice")).to.equal("a.test:1"); // already queued: no second fetch
    await flush();
    expect(inner.calls).to.equal(2);
    expect(c.lookup("alice")).to.equal("moved.test:2");
    expect(inner.calls).to.equal(2);
  });

  it("the refreshes of one turn are read with one lookupMany", async () => {
    const batches: string[][] = [];
    const many = Object.assign(inner, {
      lookupMany: (keys: string[]) => {
        batches.push(keys);
        return Promise.resolve(keys.map((k) => `${k}.new:1`));
      },
    });
    const c = cache();
    c.setInner(many);
    inner.records.set("bob", "b.test:1");
    await c.lookup("alice");
    await c.lookup("bob");
    now = 1500;
    expect([c.lookup("alice"), c.lookup("bob"), c.lookup("alice")]).to.deep.equal([
      "a.test:1",
      "b.test:1",
      "a.test:1",
    ]);
    await flush();
    expect(batches).to.deep.equal([["alice", "bob"]]);
    expect([c.lookup("alice"), c.lookup("bob")]).to.deep.equal(["alice.new:1", "bob.new:1"]);
  });

  it("a full batch of 256 refreshes is read at once, without waiting for the batching delay", async () => {
    const batches: number[] = [];
    const many = Object.assign(inner, {
      lookupMany: (keys: string[]) => {
        batches.push(keys.length);
        return Promise.resolve(keys.map(() => "x.test:1"));
      },
    });
    const c = cache();
    c.setInner(many);
    for (let i = 0; i < 300; i++) inner.records.set(`u${i}`, "old.test:1");
    await Promise.all(Array.from({ length: 300 }, (_, i) => c.lookup(`u${i}`)));
    now = 1500;
    for (let i = 0; i < 300; i++) void c.lookup(`u${i}`);
    expect(batches).to.deep.equal([256]);
    await flush();
    expect(batches).to.deep.equal([256, 44]);
  });

  it("past the TTL with the invalidation channel down: fetches before answering", async () => {
    const c = cache();
    await c.lookup("alice");
    inner.records.set("alice", "moved.test:2");
    live = false;
    now = 1500;
    const answer = c.lookup("alice");
    expect(answer).to.be.instanceOf(Promise);
    expect(await answer).to.equal("moved.test:2");
  });

  it("past max-stale, after expireAll or invalidate: fetches before answering", async () => {
    const c = cache(1000, 5000);
    await c.lookup("alice");
    inner.records.set("alice", "b.test:2");
    now = 6001;
    expect(await c.lookup("alice")).to.equal("b.test:2");
    inner.records.set("alice", "c.test:3");
    c.expireAll(); // the subscription came back: anything older is suspect
    expect(await c.lookup("alice")).to.equal("c.test:3");
    inner.records.set("alice", "d.test:4");
    c.invalidate("alice");
    expect(await c.lookup("alice")).to.equal("d.test:4");
  });

  it("unknown answers are cached and revalidated the same way", async () => {
    const c = cache();
    expect(await c.lookup("bob")).to.equal(null);
    inner.records.set("bob", "b.test:1");
    now = 1500;
    expect(c.lookup("bob")).to.equal(null);
    await flush();
    expect(c.lookup("bob")).to.equal("b.test:1");
  });

  it("a TTL of 0 (cache off) never answers stale", async () => {
    const c = cache(0, 10_000);
    await c.lookup("alice");
    inner.records.set("alice", "b.test:2");
    now = 1;
    expect(await c.lookup("alice")).to.equal("b.test:2");
  });

  it("a failed background refresh keeps the entry and raises nothing", async () => {
    const c = cache();
    await c.lookup("alice");
    inner.failing = true;
    now = 1500;
    expect(c.lookup("alice")).to.equal("a.test:1");
    await flush();
    expect(c.lookup("alice")).to.equal("a.test:1");
    live = false; // now stale-if-error answers a known address, never an unknown one
    expect(await c.lookup("alice")).to.equal("a.test:1");
    let error: unknown;
    await Promise.resolve(c.lookup("carol")).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(StoreUnavailableError);
  });

  it("batcher: the gets of one turn travel as one MGET of distinct keys, in chunks", async () => {
    const calls: string[][] = [];
    const b = new GetBatcher((keys) => {
      calls.push(keys);
      return Promise.resolve(keys.map((k) => (k === "nobody" ? null : `${k}.test:1`)));
    }, 3);
    const answers = await Promise.all(["a", "b", "a", "nobody", "c", "d"].map((k) => b.get(k)));
    expect(answers).to.deep.equal([
      "a.test:1",
      "b.test:1",
      "a.test:1",
      null,
      "c.test:1",
      "d.test:1",
    ]);
    expect(calls).to.deep.equal([
      ["a", "b", "nobody"],
      ["c", "d"],
    ]);
    expect(await b.get("e")).to.equal("e.test:1");
    expect(calls).to.have.length(3);
  });

  it("batcher: a failed MGET rejects every waiter of its chunk", async () => {
    const b = new GetBatcher(() => Promise.reject(new Error("connection lost")));
    const results = await Promise.allSettled([b.get("a"), b.get("b")]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
  });
});
