// The roll-out controller's behaviour against an in-memory image orchestrator (the real
// engine is test/swarm/rollout.spec.ts): batches, the failure threshold, the probe gate and
// revert, Swarm's own rollback, pause/resume/abort, suspended atSigns, and resuming from the
// SQLite state after a restart.
import "./quiet";
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileRecordWriter } from "@atplatform/directory";
import {
  Registrar,
  resolveConfig,
  RegistrarStore,
  type AtServerStatus,
  type Orchestrator,
  type RolloutConfig,
} from "@atplatform/registrar";
import { ADMIN_KEY, API_KEY, api } from "./harness";
import type {
  ImageRollouts,
  ImageUpdateResult,
  Placement,
} from "../../services/registrar/src/orchestrator/orchestrator";
import { RolloutController } from "../../services/registrar/src/rollout/rollout-controller";
import type { AtSignRecord } from "../../services/registrar/src/store/types";

const V1 = "registry.example/atserver:v1";
const V2 = "registry.example/atserver:v2";
const swarm = { name: "s1", host: "127.0.0.1", minPort: 30000, maxPort: 30999 };

/** Images per atSign in memory; `updateImage` takes a few ms, as an engine would. */
class FakeImages implements ImageRollouts {
  target = V2;
  readonly images = new Map<string, string>();
  /** Images whose atServer never answers the probe / that Swarm's monitor rolls back. */
  readonly silent = new Set<string>();
  readonly crashing = new Set<string>();
  readonly updates: { atsign: string; image: string }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  updateMs = 15;

  targetImages(): Record<string, string> {
    return { s1: this.target };
  }
  async currentImages(): Promise<Map<string, { swarm: string; image: string }>> {
    return new Map([...this.images].map(([a, image]) => [a, { swarm: "s1", image }]));
  }
  async updateImage(
    atsign: string,
    _p: Placement,
    _f: string,
    image: string,
  ): Promise<ImageUpdateResult> {
    this.updates.push({ atsign, image });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await sleep(this.updateMs);
      if (this.crashing.has(image)) return { outcome: "rolled_back", reason: "task exited (1)" };
      this.images.set(atsign, image);
      return { outcome: "updated" };
    } finally {
      this.inFlight--;
    }
  }
  async revertImage(atsign: string, p: Placement, f: string, image: string): Promise<void> {
    await this.updateImage(atsign, p, f, image);
  }
  probe = async (atsign: string): Promise<void> => {
    if (this.silent.has(this.images.get(atsign)!)) throw new Error("connect ECONNREFUSED");
  };
}

/** An orchestrator whose atServers are only images in memory (the HTTP test's registrar). */
class ImageOnlyOrchestrator implements Orchestrator {
  readonly name = "fake-images";
  constructor(readonly rollouts: FakeImages) {}
  async ensure(atsign: string): Promise<void> {
    if (!this.rollouts.images.has(atsign)) this.rollouts.images.set(atsign, this.rollouts.target);
  }
  async inspect(): Promise<AtServerStatus> {
    return { state: "absent" };
  }
  async stop(): Promise<void> {}
  async remove(): Promise<{ archivedTo?: string }> {
    return {};
  }
  async move(): Promise<void> {}
  async close(): Promise<void> {}
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("registrar image roll-outs (controller, in-memory orchestrator)", function () {
  this.timeout(30_000);
  let dir: string;
  let store: RegistrarStore;
  let images: FakeImages;
  let controllers: RolloutController[];

  const config = (over: Partial<RolloutConfig> = {}): RolloutConfig => ({
    auto: false,
    batchSize: 3,
    batchPauseMs: 0,
    maxFailures: 0,
    healthTimeoutMs: 1000,
    ...over,
  });
  const placements = {
    placementOf: (rec: AtSignRecord): Placement => ({
      swarm: rec.swarm!,
      host: rec.host!,
      port: rec.port!,
    }),
    secretFile: () => "/dev/null",
  };
  function controller(over: Partial<RolloutConfig> = {}, s = store): RolloutController {
    const c = new RolloutController({
      store: s,
      images,
      placements,
      healthProbe: images.probe,
      config: config(over),
    });
    controllers.push(c);
    return c;
  }

  function active(name: string): void {
    expect(store.reserve(name, { activationKey: `k-${name}` })).to.equal(true);
    let rec: AtSignRecord | undefined = store.request(name, "s".repeat(128));
    const got = store.allocate(rec, swarm, store.firstFreePort(swarm)!);
    if (got === "taken" || !got) throw new Error("no port");
    rec = got;
    for (const st of ["atserver_started", "healthy", "directory_written", "active"] as const)
      rec = store.transition(rec!, st);
    images.images.set(name, V1);
  }
  const names = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-rollout-"));
    store = new RegistrarStore(join(dir, "registrar.sqlite"));
    images = new FakeImages();
    controllers = [];
  });
  afterEach(async () => {
    for (const c of controllers) await c.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rolls every active atServer in batches of batchSize, each batch healthy before the next", async () => {
    for (const n of names(7)) active(n);
    const c = controller({ batchSize: 3 });
    expect(await c.outdated()).to.deep.equal({ active: 7, suspended: 0 });
    await c.start();
    await c.idle();
    const st = c.status()!;
    expect(st.state).to.equal("completed");
    expect(st.counts).to.include({ done: 7, failed: 0, pending: 0, updating: 0 });
    expect(st.batch).to.equal(3); // 3 + 3 + 1
    expect(images.maxInFlight).to.equal(3);
    expect([...images.images.values()]).to.deep.equal(Array(7).fill(V2));
    expect(await c.outdated()).to.deep.equal({ active: 0, suspended: 0 });
    // Nothing left to do: a second start says so instead of planning an empty roll-out.
    await c.start().then(
      () => expect.fail("started"),
      (err: Error) => expect(err.message).to.match(/nothing to roll out/),
    );
  });

  it("an image that never answers info:brief stops the roll-out after the first batch; the batch is reverted, the rest keep the old image", async () => {
    for (const n of names(6)) active(n);
    images.silent.add(V2);
    const c = controller({ batchSize: 2 });
    await c.start();
    await c.idle();
    const st = c.status()!;
    expect(st.state).to.equal("stopped");
    expect(st.stoppedReason).to.match(/2 atServer\(s\) failed.*threshold 0/);
    expect(st.counts).to.include({ failed: 2, done: 0, pending: 4 });
    expect(st.failures[0]!.detail).to.match(
      /no info:brief answer.*ECONNREFUSED.*reverted to .*:v1/,
    );
    expect([...images.images.values()]).to.deep.equal(Array(6).fill(V1));
    // Only the first batch was touched: two updates and their two reverts.
    expect(images.updates.map((u) => u.atsign)).to.have.members(["a0", "a1", "a0", "a1"]);
  });

  it("Swarm's own rollback (task died in the monitor window) counts as a failure; maxFailures tolerates some", async () => {
    for (const n of names(4)) active(n);
    images.crashing.add(V2);
    const c = controller({ batchSize: 1, maxFailures: 2 });
    await c.start();
    await c.idle();
    const st = c.status()!;
    expect(st.state).to.equal("stopped");
    // Three batches of one: the third failure is one beyond the threshold of two.
    expect(st.batch).to.equal(3);
    expect(st.counts).to.include({ failed: 3, pending: 1 });
    expect(st.failures[0]!.detail).to.match(/rolled it back: task exited/);
  });

  it("pause lets the current batch finish and starts no other; resume carries on; abort leaves the rest on the old image", async () => {
    for (const n of names(6)) active(n);
    images.updateMs = 100;
    const c = controller({ batchSize: 2 });
    await c.start();
    await sleep(30);
    expect(c.pause().state).to.equal("paused");
    await c.idle();
    expect(c.status()!.counts).to.include({ done: 2, pending: 4 });
    await sleep(150);
    expect(c.status()!.counts.done).to.equal(2);
    c.resumeRollout();
    await sleep(30);
    expect(c.abort().state).to.equal("aborted");
    await c.idle();
    const st = c.status()!;
    expect(st.counts).to.include({ done: 4, pending: 2 });
    expect(images.images.get("a5")).to.equal(V1);
    expect(() => c.resumeRollout()).to.throw(/no roll-out is running or paused/);
  });

  it("suspended atSigns are not rolled (they keep their image, counted as outdated); one suspended mid-roll-out is skipped", async () => {
    for (const n of names(4)) active(n);
    const a3 = store.get("a3")!;
    store.transition(store.transition(a3, "suspending")!, "suspended");
    const c = controller({ batchSize: 1 });
    expect(await c.outdated()).to.deep.equal({ active: 3, suspended: 1 });
    await c.start();
    // a2 is suspended before its batch comes.
    store.transition(store.transition(store.get("a2")!, "suspending")!, "suspended");
    await c.idle();
    const st = c.status()!;
    expect(st.total).to.equal(3);
    expect(st.counts).to.include({ done: 2, skipped: 1 });
    expect(images.images.get("a2")).to.equal(V1);
    expect(images.images.get("a3")).to.equal(V1);
    expect(await c.outdated()).to.deep.equal({ active: 0, suspended: 2 });
  });

  it("a registrar restart resumes from SQLite: done items are not updated again, the one caught mid-update is redone", async () => {
    for (const n of names(5)) active(n);
    const first = controller({ batchSize: 2, batchPauseMs: 60_000 });
    await first.start();
    // Batch 1 done, now in the long pause: the registrar stops.
    while (first.status()!.counts.done < 2) await sleep(10);
    await first.stop();
    store.close();
    // Simulate a crash mid-update of a2: the row says updating.
    store = new RegistrarStore(join(dir, "registrar.sqlite"));
    const second = controller({ batchSize: 2, auto: true }, store);
    second.rollouts.setItem(second.status()!.id, "a2", "updating", { batch: 2 });
    images.updates.length = 0;
    await second.resume();
    await second.idle();
    const st = second.status()!;
    expect(st.state).to.equal("completed");
    expect(st.counts.done).to.equal(5);
    expect(images.updates.map((u) => u.atsign)).to.deep.equal(["a2", "a3", "a4"]);
  });

  it("on start-up with auto: a roll-out toward an image no longer configured is superseded by one toward the new image", async () => {
    for (const n of names(3)) active(n);
    images.silent.add(V2);
    const c1 = controller({ batchSize: 1, maxFailures: 5, batchPauseMs: 60_000 });
    await c1.start();
    while (c1.status()!.counts.failed < 1) await sleep(10);
    await c1.stop();
    images.target = "registry.example/atserver:v3";
    const c2 = controller({ batchSize: 3, auto: true });
    await c2.resume();
    await c2.idle();
    const old = c2.rollouts.get(1)!;
    expect(old.state).to.equal("aborted");
    expect(old.stoppedReason).to.match(/superseded/);
    expect(c2.status()).to.include({ id: 2, state: "completed" });
    expect([...images.images.values()]).to.deep.equal(Array(3).fill(images.target));
  });

  it("the roll-out settings are validated in the registrar config", () => {
    const base = { dataDir: dir, apiKey: "a".repeat(16), adminKey: "b".repeat(16) };
    const roll = (over: Partial<RolloutConfig>) => () =>
      resolveConfig({ ...base, rollout: config(over) });
    expect(roll({ batchSize: 0 })).to.throw(/batch size/);
    expect(roll({ batchSize: 1.5 })).to.throw(/batch size/);
    expect(roll({ maxFailures: -1 })).to.throw(/failure threshold/);
    expect(roll({ healthTimeoutMs: 10 })).to.throw(/health timeout/);
    expect(roll({ batchPauseMs: -5 })).to.throw(/batch pause/);
    expect(resolveConfig(base).rollout).to.include({ batchSize: 5, maxFailures: 0, auto: true });
  });

  it("admin API on a live registrar: progress (outdated, counts), start, 409s that say why, the admin page line; admin key only", async () => {
    store.close();
    const registrar = await Registrar.create(
      {
        dataDir: dir,
        apiKey: API_KEY,
        adminKey: ADMIN_KEY,
        port: 0,
        swarms: [swarm],
        rollout: config({ batchSize: 2 }),
      },
      {
        orchestrator: new ImageOnlyOrchestrator(images),
        records: new FileRecordWriter(join(dir, "records.txt")),
        healthProbe: images.probe,
      },
    );
    store = registrar.store;
    try {
      for (const n of names(3)) active(n);
      await registrar.start();
      const url = registrar.url;
      const admin = (path: string, body?: unknown, key = ADMIN_KEY) =>
        api(url, path, { key: `Bearer ${key}`, body });
      const before = await admin("/api/admin/rollout");
      expect(before.json).to.deep.equal({
        supported: true,
        orchestrator: "fake-images",
        outdated: { active: 3, suspended: 0 },
        rollout: null,
      });
      expect((await admin("/api/admin/rollout", undefined, API_KEY)).status).to.equal(401);
      const started = await admin("/api/admin/rollout/start", {});
      expect(started.status).to.equal(202);
      expect(started.json.rollout).to.include({ id: 1, total: 3 });
      await registrar.rollout!.idle();
      const after = (await admin("/api/admin/rollout")).json;
      expect(after.outdated).to.deep.equal({ active: 0, suspended: 0 });
      expect(after.rollout).to.deep.include({
        state: "completed",
        batch: 2,
        targets: { s1: V2 },
        updating: [],
        failures: [],
      });
      expect(after.rollout.counts).to.include({ done: 3 });
      const again = await admin("/api/admin/rollout/start", {});
      expect(again.status).to.equal(409);
      expect(again.json.message).to.match(/nothing to roll out/);
      // An engine that does not answer: 503 naming the cause, not an internal error.
      const listing = images.currentImages;
      images.currentImages = () => Promise.reject(new Error("swarm s1: connect ECONNREFUSED"));
      images.target = "registry.example/atserver:v9";
      const down = await admin("/api/admin/rollout/start", {});
      expect(down.status).to.equal(503);
      expect(down.json.message).to.equal("cannot plan a roll-out: swarm s1: connect ECONNREFUSED");
      const status = (await admin("/api/admin/rollout")).json;
      expect(status).to.include({
        outdated: null,
        outdatedError: "swarm s1: connect ECONNREFUSED",
      });
      images.currentImages = listing;
      images.target = V2;
      const pause = await admin("/api/admin/rollout/pause", {});
      expect(pause.status).to.equal(409);
      expect(pause.json.message).to.match(/no roll-out is running or paused/);
      const page = await fetch(`${url}/admin`, {
        headers: { Authorization: `Basic ${Buffer.from(`x:${ADMIN_KEY}`).toString("base64")}` },
      });
      expect(await page.text()).to.match(
        /Image roll-out 1: completed, batch 2;\s+3 done,\s+0 failed/,
      );
    } finally {
      await registrar.stop();
    }
  });
});
