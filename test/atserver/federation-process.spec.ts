// Federation with a real receiving atServer process that is stopped and restarted.
import { expect } from "chai";
import { startPlatform, type Platform } from "./federation-harness";

async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("atserver federation: receiver stopped while notifications are sent (real processes)", function () {
  this.timeout(60_000);
  let p: Platform;
  before(async () => {
    p = await startPlatform(["@alice", "@bob"], { processes: ["@bob"] });
  });
  after(async () => p.stop());

  it("every notification sent while bob was down is delivered exactly once after bob restarts", async () => {
    const alice = await p.owner("@alice");
    const ids: string[] = [];
    const send = async (i: number) =>
      ids.push(await alice.execute(`notify:update:@bob:n${i}.restart@alice:value-${i}`));
    for (let i = 0; i < 3; i++) await send(i);
    for (const id of ids)
      await until(
        () => alice.execute(`notify:status:${id}`),
        (s) => s === "delivered",
      );
    await p.procs["@bob"]!.kill("SIGKILL");
    for (let i = 3; i < 13; i++) await send(i);
    const waiting = await Promise.all(
      ids.slice(3).map((id) => alice.execute(`notify:status:${id}`)),
    );
    expect(waiting.every((s) => s === "queued" || s === "errored")).to.equal(true);
    await p.startProcess("@bob");
    for (const id of ids)
      await until(
        () => alice.execute(`notify:status:${id}`),
        (s) => s === "delivered",
      );
    const bob = await p.owner("@bob");
    const seen: string[] = [];
    bob.on("notification", (n: { id: string; key: string }) => {
      if (n.key.endsWith(".restart@alice")) seen.push(n.id);
    });
    bob.monitor("restart", 0);
    await until(
      async () => seen.length,
      (n) => n >= 13,
      5000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect([...seen].sort()).to.deep.equal([...ids].sort());
    const listed = JSON.parse(await bob.execute("notify:list:restart")) as Array<{ id: string }>;
    expect(listed.map((n) => n.id).sort()).to.deep.equal([...ids].sort());
  });
});
