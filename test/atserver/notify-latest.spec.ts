import { expect } from "chai";
import type { AtClient } from "@atplatform/protocol";
import { startServer, type Started } from "./harness";

// No directory is configured, so notifications to @bob stay queued: what strategy:latest
// drops is visible through notify:status (a dropped id → null).
describe("atserver notify strategy:latest (Part B §3.12, §6)", () => {
  let s: Started;
  let c: AtClient;
  before(async () => {
    s = await startServer();
    c = await s.owner();
  });
  after(async () => s.stop());

  const status = async (ids: string[]) =>
    Promise.all(ids.map((id) => c.execute(`notify:status:${id}`)));

  it("latestN defaults to 1: only the newest queued notification of a notifier is kept", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(await c.execute(`notify:strategy:latest:notifier:n1:@bob:l1.k@alice:v${i}`));
    expect(await status(ids)).to.deep.equal(["null", "null", "queued"]);
  });

  it("latestN:2 keeps the newest two per notifier, whatever their keys", async () => {
    const ids: string[] = [];
    for (const k of ["a", "b", "c", "d"])
      ids.push(
        await c.execute(`notify:strategy:latest:latestN:2:notifier:n2:@bob:l2${k}.k@alice:v`),
      );
    expect(await status(ids)).to.deep.equal(["null", "null", "queued", "queued"]);
  });

  it("other notifiers, other recipients and strategy:all are untouched", async () => {
    const other = await c.execute("notify:strategy:latest:notifier:n3:@bob:l3.k@alice:v");
    const carol = await c.execute("notify:strategy:latest:notifier:n4:@carol:l3.k@alice:v");
    const all = await c.execute("notify:notifier:n4:@bob:l3.k@alice:v");
    const latest = await c.execute("notify:strategy:latest:notifier:n4:@bob:l3.k@alice:v2");
    expect(await status([other, carol, all, latest])).to.deep.equal([
      "queued",
      "queued",
      "queued",
      "queued",
    ]);
    const next = await c.execute("notify:strategy:latest:notifier:n4:@bob:l3.k@alice:v3");
    expect(await status([carol, latest, next])).to.deep.equal(["queued", "null", "queued"]);
  });

  it("strategy:latest without a notifier → AT0003", async () => {
    const err = await c.execute("notify:strategy:latest:@bob:l4.k@alice:v").catch((e: Error) => e);
    expect(String(err)).to.match(/strategy latest needs a notifier|Invalid syntax/);
  });
});
