import { expect } from "chai";
import { AtClient } from "@atplatform/protocol";
import { ADMIN_KEY, api, processesWith, startHarness, type Harness } from "./harness";

const admin = { key: `Bearer ${ADMIN_KEY}` };

describe("registrar lifecycle: crash restart, reset, suspend/resume, move", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  async function activate(name: string): Promise<string> {
    const got = await api(h.url, `/api/app/v3/get-atsign?atSign=${name}&ActivationKey=key-${name}`);
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status, act.text).to.equal(200);
    return act.json.cramkey.slice(act.json.cramkey.indexOf(":") + 1);
  }

  async function connect(name: string): Promise<AtClient> {
    const addr = await h.lookup(name);
    if (!addr) throw new Error(`${name} does not resolve`);
    const [host, port] = addr.split(":");
    return AtClient.connect({ host: host!, port: Number(port), ca: h.ca, atSign: `@${name}` });
  }

  async function until(name: string, state: string): Promise<void> {
    const rec = await h.registrar.provisioner.waitFor(name, (r) => r?.state === state, 15_000);
    expect(rec?.state, rec?.lastError ?? "").to.equal(state);
  }

  it("a crashed atServer is restarted by the local orchestrator", async () => {
    await activate("crashy");
    const storage = h.orchestrator.storageDir("crashy");
    const [pid] = processesWith(storage);
    process.kill(pid!, "SIGKILL");
    const deadline = Date.now() + 15_000;
    let now: number[] = [];
    while (Date.now() < deadline) {
      now = processesWith(storage);
      if (now.length === 1 && now[0] !== pid) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(now).to.have.length(1);
    expect(now[0]).not.to.equal(pid);
    const status = await h.orchestrator.inspect("crashy");
    expect(status.state).to.equal("running");
  });

  it("reset wipes the atServer's data and issues a new secret that CRAM accepts", async () => {
    const oldSecret = await activate("resetme");
    const c1 = await connect("resetme");
    await c1.cram(oldSecret);
    await c1.execute("update:public:before@resetme kept?");
    await c1.close();

    const r = await api(h.url, "/api/admin/atsigns/resetme/reset", { method: "POST", ...admin });
    expect(r.status, r.text).to.equal(202);
    await until("resetme", "active");
    const newSecret = h.registrar.store.get("resetme")!.cramSecret!;
    expect(newSecret).not.to.equal(oldSecret);

    const c2 = await connect("resetme");
    await c2.cram(newSecret);
    let missing = "";
    try {
      await c2.execute("llookup:public:before@resetme");
    } catch (err) {
      missing = (err as Error).message;
    }
    expect(missing).to.not.equal("");
    await c2.close();
  });

  it("suspend stops the atServer and unlists it; resume brings it back with its data", async () => {
    const secret = await activate("sleeper");
    const c = await connect("sleeper");
    await c.cram(secret);
    await c.execute("update:public:note@sleeper still here");
    await c.close();
    const storage = h.orchestrator.storageDir("sleeper");

    expect(
      (await api(h.url, "/api/admin/atsigns/sleeper/suspend", { method: "POST", ...admin })).status,
    ).to.equal(202);
    await until("sleeper", "suspended");
    expect(await h.lookup("sleeper")).to.equal(null);
    expect(processesWith(storage)).to.have.length(0);

    expect(
      (await api(h.url, "/api/admin/atsigns/sleeper/resume", { method: "POST", ...admin })).status,
    ).to.equal(202);
    await until("sleeper", "active");
    const c2 = await connect("sleeper");
    await c2.cram(secret);
    expect(await c2.execute("llookup:public:note@sleeper")).to.equal("still here");
    await c2.close();
  });

  it("a per-atSign memory limit is stored and handed to the orchestrator's placement", async () => {
    await activate("bigmem");
    const set = await api(h.url, "/api/admin/atsigns/bigmem/memory", {
      body: { memoryLimitMb: 250 },
      ...admin,
    });
    expect(set.status, set.text).to.equal(202);
    expect(set.json.memoryLimitMb).to.equal(250);
    const status = await h.orchestrator.inspect("bigmem");
    expect(status.state === "running" && status.placement.memoryLimitMb).to.equal(250);
    const bad = await api(h.url, "/api/admin/atsigns/bigmem/memory", {
      body: { memoryLimitMb: 1 },
      ...admin,
    });
    expect(bad.status).to.equal(400);
  });

  it("move puts the atServer in another swarm with the same storage and updates the root", async () => {
    const secret = await activate("mover");
    const c = await connect("mover");
    await c.cram(secret);
    await c.execute("update:public:luggage@mover packed");
    await c.close();
    const before = h.registrar.store.get("mover")!;
    expect(before.swarm).to.equal("local");

    const r = await api(h.url, "/api/admin/atsigns/mover/move", {
      body: { swarm: "second" },
      ...admin,
    });
    expect(r.status, r.text).to.equal(202);
    await until("mover", "active");
    const after = h.registrar.store.get("mover")!;
    expect(after.swarm).to.equal("second");
    expect(after.port).not.to.equal(before.port);
    expect(await h.lookup("mover")).to.equal(`127.0.0.1:${after.port}`);
    expect(processesWith(h.orchestrator.storageDir("mover"))).to.have.length(1);
    const c2 = await connect("mover");
    await c2.cram(secret);
    expect(await c2.execute("llookup:public:luggage@mover")).to.equal("packed");
    await c2.close();

    const bad = await api(h.url, "/api/admin/atsigns/mover/move", {
      body: { swarm: "nowhere" },
      ...admin,
    });
    expect(bad.status).to.equal(400);
  });
});
