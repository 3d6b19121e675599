// One atSign through its life after activation, in order: crash, memory limit,
// suspend/resume, move, reset. (One atServer start per step instead of a new atSign each.)
import { expect } from "chai";
import { AtClient } from "@atplatform/protocol";
import { ADMIN_KEY, api, processesWith, startHarness, type Harness } from "./harness";

const admin = { key: `Bearer ${ADMIN_KEY}` };
const NAME = "lifer";

describe("registrar lifecycle: crash restart, memory limit, suspend/resume, move, reset", function () {
  let h: Harness;
  let secret: string;
  before(async () => {
    h = await startHarness();
    const got = await api(h.url, `/api/app/v3/get-atsign?atSign=${NAME}&ActivationKey=key-${NAME}`);
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status, act.text).to.equal(200);
    secret = act.json.cramkey.slice(act.json.cramkey.indexOf(":") + 1);
    const c = await connect();
    await c.cram(secret);
    await c.execute(`update:public:luggage@${NAME} packed`);
    await c.close();
  });
  after(async () => {
    await h?.stop();
  });

  async function connect(): Promise<AtClient> {
    const addr = await h.lookup(NAME);
    if (!addr) throw new Error(`${NAME} does not resolve`);
    const [host, port] = addr.split(":");
    return AtClient.connect({ host: host!, port: Number(port), ca: h.ca, atSign: `@${NAME}` });
  }

  async function luggage(cramSecret: string): Promise<string> {
    const c = await connect();
    try {
      await c.cram(cramSecret);
      return await c.execute(`llookup:public:luggage@${NAME}`);
    } catch (err) {
      return `error: ${(err as Error).message}`;
    } finally {
      c.destroy();
    }
  }

  async function until(state: string): Promise<void> {
    const rec = await h.registrar.provisioner.waitFor(NAME, (r) => r?.state === state, 15_000);
    expect(rec?.state, rec?.lastError ?? "").to.equal(state);
  }

  it("a crashed atServer is restarted by the local orchestrator", async () => {
    const storage = h.orchestrator.storageDir(NAME);
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
    expect((await h.orchestrator.inspect(NAME)).state).to.equal("running");
    const status = await api(h.url, `/api/admin/atsigns/${NAME}`, admin);
    expect(status.json.atServer).to.include({ state: "running", pid: now[0], restarts: 1 });
  });

  it("a per-atSign memory limit is stored and handed to the orchestrator's placement", async () => {
    const set = await api(h.url, `/api/admin/atsigns/${NAME}/memory`, {
      body: { memoryLimitMb: 250 },
      ...admin,
    });
    expect(set.status, set.text).to.equal(202);
    expect(set.json.memoryLimitMb).to.equal(250);
    const status = await h.orchestrator.inspect(NAME);
    expect(status.state === "running" && status.placement.memoryLimitMb).to.equal(250);
    const bad = await api(h.url, `/api/admin/atsigns/${NAME}/memory`, {
      body: { memoryLimitMb: 1 },
      ...admin,
    });
    expect(bad.status).to.equal(400);
  });

  it("suspend stops the atServer and unlists it; resume brings it back with its data", async () => {
    const storage = h.orchestrator.storageDir(NAME);
    const s = await api(h.url, `/api/admin/atsigns/${NAME}/suspend`, { method: "POST", ...admin });
    expect(s.status).to.equal(202);
    await until("suspended");
    expect(await h.lookup(NAME)).to.equal(null);
    expect(processesWith(storage)).to.have.length(0);

    const r = await api(h.url, `/api/admin/atsigns/${NAME}/resume`, { method: "POST", ...admin });
    expect(r.status).to.equal(202);
    await until("active");
    expect(await luggage(secret)).to.equal("packed");
  });

  it("move puts the atServer in another swarm with the same storage and updates the root", async () => {
    const before = h.registrar.store.get(NAME)!;
    expect(before.swarm).to.equal("local");
    const r = await api(h.url, `/api/admin/atsigns/${NAME}/move`, {
      body: { swarm: "second" },
      ...admin,
    });
    expect(r.status, r.text).to.equal(202);
    await until("active");
    const after = h.registrar.store.get(NAME)!;
    expect(after.swarm).to.equal("second");
    expect(after.port).not.to.equal(before.port);
    expect(await h.lookup(NAME)).to.equal(`127.0.0.1:${after.port}`);
    expect(processesWith(h.orchestrator.storageDir(NAME))).to.have.length(1);
    expect(await luggage(secret)).to.equal("packed");
    const bad = await api(h.url, `/api/admin/atsigns/${NAME}/move`, {
      body: { swarm: "nowhere" },
      ...admin,
    });
    expect(bad.status).to.equal(400);
  });

  it("reset wipes the atServer's data and issues a new secret that CRAM accepts", async () => {
    const r = await api(h.url, `/api/admin/atsigns/${NAME}/reset`, { method: "POST", ...admin });
    expect(r.status, r.text).to.equal(202);
    await until("active");
    const newSecret = h.registrar.store.get(NAME)!.cramSecret!;
    expect(newSecret).not.to.equal(secret);
    expect(await luggage(secret)).to.match(/^error:/);
    expect(await luggage(newSecret)).to.match(/^error: .*luggage/);
  });
});
