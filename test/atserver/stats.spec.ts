import { expect } from "chai";
import type { AtClient } from "@atplatform/protocol";
import { UsageCounter } from "@atplatform/atserver/src/stats/usage";
import { startServer, type Started } from "./harness";
import { startPlatform } from "./federation-harness";

interface Stat {
  id: string;
  name: string;
  value: string;
}

async function stat(c: AtClient, id: number): Promise<Stat> {
  const list = JSON.parse((await c.execute(`stats:${id}`)).trim()) as Stat[];
  expect(list).to.have.length(1);
  return list[0]!;
}

describe("atserver: stats 5, 6 (lookup counters) and 12-14 (housekeeping runs)", () => {
  let s: Started;
  let c: AtClient;
  before(async () => {
    s = await startServer();
    c = await s.owner();
  });
  after(async () => s.stop());

  it("stats:5/6 list the requesting atSigns and the looked-up keys, most first", async () => {
    await c.execute("update:public:often@alice 1");
    await c.execute("update:public:rare@alice 2");
    for (let i = 0; i < 4; i++) await c.execute("plookup:often@alice");
    await c.execute("plookup:rare@alice");
    const anon = await s.client();
    await anon.execute("lookup:rare@alice");
    await anon.execute("lookup:rare@alice");
    await anon.execute("lookup:rare@alice");
    await anon.execute("lookup:often@alice");

    const keys = await stat(c, 6);
    expect(keys.name).to.equal("topKeys");
    const top = JSON.parse(keys.value) as Record<string, number>;
    expect(Object.entries(top)).to.deep.equal([
      ["public:often@alice", 5],
      ["public:rare@alice", 4],
    ]);
    const atSigns = await stat(c, 5);
    expect(atSigns.name).to.equal("topAtSigns");
    // Anonymous lookups name no atSign; the owner's 5 plookups of its own keys count.
    expect(JSON.parse(atSigns.value)).to.deep.equal({ "@alice": 5 });
  });

  it("lookups of missing keys are not counted", async () => {
    const before = JSON.parse((await stat(c, 6)).value) as Record<string, number>;
    await c.execute("plookup:nothere@alice").catch(() => undefined);
    expect(JSON.parse((await stat(c, 6)).value)).to.deep.equal(before);
  });

  it('stats:12/13/14 are "{}" until the jobs ran, then describe the last sweep', async () => {
    const fresh = await startServer();
    try {
      const o = await fresh.owner();
      for (const id of [12, 13, 14]) expect((await stat(o, id)).value).to.equal("{}");
      await o.execute("update:ttl:1:public:brief@alice gone");
      await o.execute("update:public:stays@alice here");
      await o.execute("plookup:stays@alice");
      await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      expect(fresh.server.sweep()).to.equal(1);

      const commitLog = await stat(o, 12);
      expect(commitLog.name).to.equal("CommitLogCompactionStats");
      const cl = JSON.parse(commitLog.value) as Record<string, string>;
      expect(cl.atCompactionType).to.equal("CommitLogCompaction");
      expect(cl.deletedKeysCount).to.equal("1");
      expect(Date.parse(cl.lastCompactionRun)).to.be.at.least(t0 - 1000);
      expect(Number(cl.compactionDurationInMills)).to.be.at.least(0);

      const access = JSON.parse((await stat(o, 13)).value) as Record<string, string>;
      expect(access).to.include({
        atCompactionType: "AccessLogCompaction",
        preCompactionEntriesCount: "2",
        postCompactionEntriesCount: "2",
        deletedKeysCount: "0",
      });
      const notes = await stat(o, 14);
      expect(notes.name).to.equal("NotificationCompactionStats");
      expect(JSON.parse(notes.value)).to.include({
        atCompactionType: "NotificationCompaction",
        deletedKeysCount: "0",
      });
    } finally {
      await fresh.stop();
    }
  });
});

describe("atserver: stats:5 counts peers that looked up over pol (federation)", () => {
  it("bob's server looks up alice's shared key: alice's topAtSigns has @bob, topKeys the key", async () => {
    const p = await startPlatform(["@alice", "@bob"]);
    try {
      const alice = await p.owner("@alice");
      const bob = await p.owner("@bob");
      await alice.execute("update:@bob:code@alice s3cr3t");
      expect(await bob.execute("lookup:bypassCache:true:code@alice")).to.equal("s3cr3t");
      expect(await bob.execute("lookup:bypassCache:true:code@alice")).to.equal("s3cr3t");
      const atSigns = JSON.parse((await stat(alice, 5)).value) as Record<string, number>;
      // One pol per outbound connection plus one per lookup.
      expect(atSigns["@bob"]).to.be.at.least(3);
      // The pol handshake's own lookups (signing key, proof key) are counted too, once each.
      const keys = Object.entries(JSON.parse((await stat(alice, 6)).value) as object);
      expect(keys[0]).to.deep.equal(["@bob:code@alice", 2]);
    } finally {
      await p.stop();
    }
  });
});

describe("UsageCounter: bounded", () => {
  it("never holds more than twice its cap and keeps the highest counts", () => {
    const u = new UsageCounter(3);
    for (let i = 0; i < 5; i++) u.add("hot");
    for (let i = 0; i < 3; i++) u.add("warm");
    for (let i = 0; i < 100; i++) u.add(`cold${i}`);
    expect(u.size).to.be.at.most(6);
    expect(Object.keys(u.top(2))).to.deep.equal(["hot", "warm"]);
    const size = u.size;
    expect(u.trim()).to.equal(size - 3);
    expect(u.size).to.equal(3);
    expect(u.top(1)).to.deep.equal({ hot: 5 });
  });
});
