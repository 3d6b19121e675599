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

describe("atserver federation: real atServer processes and a real atDirectory", function () {
  this.timeout(60_000);
  let p: Platform;
  before(async () => {
    // A short quarantine (default 10 s): alice retries bob soon after bob is back.
    p = await startPlatform(["@alice", "@bob"], {
      processes: ["@alice", "@bob"],
      processArgs: ["--notification-quarantine-ms", "1500"],
    });
  });
  after(async () => p.stop());

  it("Part A 10: bob's server returns alice's shared and public keys; notify reaches bob's monitor; epoch replay", async () => {
    const alice = await p.owner("@alice");
    const bob = await p.owner("@bob");
    await alice.execute("update:@bob:k.a10@alice shared-value");
    await alice.execute("update:public:k.a10@alice public-value");
    expect(await bob.execute("lookup:k.a10@alice")).to.equal("shared-value");
    expect(await bob.execute("plookup:k.a10@alice")).to.equal("public-value");
    const mon = await p.owner("@bob");
    const raw: string[] = [];
    (mon as unknown as { socket: NodeJS.EventEmitter }).socket.on("data", (d) =>
      raw.push(String(d)),
    );
    mon.monitor("a10");
    const id = "a10-0000-4000-8000-000000000001";
    const got = mon.nextNotification((n) => n.id === id);
    expect(
      await alice.execute(
        `notify:id:${id}:update:isEncrypted:true:ivNonce:M+eMa0YUAcmeRVosCpyqpQ==:@bob:note.a10@alice:Q2lw`,
      ),
    ).to.equal(id);
    const n = await got;
    expect(n).to.include({ id, key: "@bob:note.a10@alice", value: "Q2lw", operation: "update" });
    expect(n.metadata).to.include({ ivNonce: "M+eMa0YUAcmeRVosCpyqpQ==" });
    expect(n.key.split(":")).to.have.length(2);
    expect(raw.join("")).to.include(`notification: {"id":"${id}"`);
    expect(raw.join("")).to.not.include("\n@bob@");
    // A new monitor with epoch 0 replays it first.
    const again = await p.owner("@bob");
    const replayed = again.nextNotification((x) => x.id === id);
    again.monitor(".*", 0);
    expect((await replayed).key).to.equal("@bob:note.a10@alice");
  });

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
