// Rolls running atServers to their swarm's configured image in batches: each atServer is
// updated under the orchestrator's own gate (Swarm: UpdateConfig monitor and failure action),
// then must answer `info:brief` on its public address; a batch finishes before the next one
// starts, and failures beyond the threshold stop the roll-out with the rest on their image.
import type { RolloutConfig } from "../config";
import { ConflictError } from "../errors";
import { rolloutLogger as log } from "../logger";
import { sameImage, type ImageRollouts, type Placement } from "../orchestrator/orchestrator";
import type { HealthProbe } from "../provisioning/ports";
import type { RegistrarStore } from "../store/registrar-store";
import type { AtSignRecord } from "../store/types";
import {
  RolloutStore,
  type ItemState,
  type Rollout,
  type RolloutItem,
  type RolloutState,
} from "./rollout-store";

/** What the controller needs of the provisioner: where an atSign runs, and its secret file. */
export interface PlacementSource {
  placementOf(rec: AtSignRecord): Placement | undefined;
  secretFile(rec: AtSignRecord): string;
}

export interface RolloutDeps {
  store: RegistrarStore;
  images: ImageRollouts;
  placements: PlacementSource;
  healthProbe: HealthProbe;
  config: RolloutConfig;
}

export interface RolloutStatus {
  id: number;
  state: RolloutState;
  targets: Record<string, string>;
  total: number;
  counts: Record<ItemState, number>;
  /** Batch number in progress (or the last one run) and its atSigns still updating. */
  batch: number;
  updating: string[];
  failures: { atsign: string; detail: string | null }[];
  stoppedReason: string | null;
  createdAt: string;
  updatedAt: string;
}

const PROBE_INTERVAL_MS = 1000;

export class RolloutController {
  readonly rollouts: RolloutStore;
  private loop?: Promise<void>;
  private stopping = false;
  /** Cuts the pause between batches short (pause, abort, stop). */
  private wake?: () => void;

  constructor(private readonly d: RolloutDeps) {
    this.rollouts = new RolloutStore(d.store.db);
  }

  /**
   * Start-up: a running roll-out carries on (items caught mid-update are updated again, which
   * is idempotent, and re-probed); one whose targets are no longer the configured images is
   * superseded; with `auto`, atServers on another image than their swarm's start a new one.
   */
  async resume(): Promise<void> {
    const current = this.rollouts.current();
    if (current && !sameTargets(current.targets, this.d.images.targetImages())) {
      this.rollouts.setState(
        current.id,
        ["running", "paused"],
        "aborted",
        "superseded: the configured images changed",
      );
      log.warn({ rollout: current.id }, "roll-out superseded by a new configured image");
    } else if (current) {
      if (current.state === "running") this.kick();
      return;
    }
    if (!this.d.config.auto) return;
    try {
      await this.start();
    } catch (err) {
      if (!(err instanceof NothingToRollError)) throw err;
    }
  }

  /** Plans a roll-out of every active atServer not on its swarm's image, and runs it. */
  async start(): Promise<Rollout> {
    if (this.rollouts.current())
      throw new ConflictError("a roll-out is already running or paused: resume or abort it first");
    const targets = this.d.images.targetImages();
    const running = await this.d.images.currentImages();
    const items: Omit<RolloutItem, "state" | "batch" | "detail">[] = [];
    // Suspended atSigns are left out on purpose: stopped, they cannot prove the new image
    // healthy. They come back on the image they had and join the next roll-out.
    for (const rec of this.d.store.list({ states: ["active"] })) {
      const cur = running.get(rec.atsign);
      const to = cur && targets[cur.swarm];
      if (!cur || !to || sameImage(cur.image, to)) continue;
      items.push({ atsign: rec.atsign, swarm: cur.swarm, fromImage: cur.image, toImage: to });
    }
    if (items.length === 0) throw new NothingToRollError();
    const r = this.rollouts.create(targets, items);
    if (!r) throw new ConflictError("another roll-out started meanwhile");
    log.info({ rollout: r.id, targets, atServers: items.length }, "roll-out started");
    this.kick();
    return r;
  }

  /** The current batch finishes; no new one starts until `resumeRollout`. */
  pause(): Rollout {
    return this.transition(["running"], "paused");
  }

  resumeRollout(): Rollout {
    const r = this.transition(["paused"], "running");
    this.kick();
    return r;
  }

  /** The current batch finishes; the atServers not yet updated keep their image. */
  abort(): Rollout {
    return this.transition(["running", "paused"], "aborted", "aborted by an operator");
  }

  /** The latest roll-out, with counts and its failures. */
  status(): RolloutStatus | undefined {
    const r = this.rollouts.latest();
    if (!r) return undefined;
    const counts = this.rollouts.counts(r.id);
    return {
      id: r.id,
      state: r.state,
      targets: r.targets,
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      batch: r.batch,
      updating: this.rollouts.items(r.id, ["updating"]).map((i) => i.atsign),
      failures: this.rollouts
        .items(r.id, ["failed"])
        .map((i) => ({ atsign: i.atsign, detail: i.detail })),
      stoppedReason: r.stoppedReason,
      createdAt: new Date(r.createdAt).toISOString(),
      updatedAt: new Date(r.updatedAt).toISOString(),
    };
  }

  /** atServers (active and suspended) whose image differs from their swarm's. */
  async outdated(): Promise<{ active: number; suspended: number }> {
    const targets = this.d.images.targetImages();
    const running = await this.d.images.currentImages();
    const out = { active: 0, suspended: 0 };
    for (const rec of this.d.store.list({ states: ["active", "suspended"] })) {
      const cur = running.get(rec.atsign);
      const to = cur && targets[cur.swarm];
      if (cur && to && !sameImage(cur.image, to))
        out[rec.state === "active" ? "active" : "suspended"]++;
    }
    return out;
  }

  /** Resolves once no batch is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Registrar shutdown: no new batch starts. An update in flight goes on in the orchestrator;
   * its item stays `updating` and the next start re-checks it.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const loop = this.loop;
    if (!loop) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([loop, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------------------------

  private transition(from: RolloutState[], to: RolloutState, reason?: string): Rollout {
    const r = this.rollouts.current();
    if (!r || !from.includes(r.state))
      throw new ConflictError(
        r ? `the roll-out is ${r.state}` : "no roll-out is running or paused",
      );
    if (!this.rollouts.setState(r.id, from, to, reason ?? null))
      throw new ConflictError("the roll-out changed meanwhile");
    log.info({ rollout: r.id, state: to }, "roll-out state changed");
    this.wake?.();
    return this.rollouts.get(r.id)!;
  }

  private kick(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.run()
      .catch((err: unknown) => log.error({ err }, "roll-out loop failed"))
      .finally(() => {
        this.loop = undefined;
      });
  }

  private async run(): Promise<void> {
    const { batchSize, batchPauseMs, maxFailures } = this.d.config;
    for (;;) {
      if (this.stopping) return;
      const r = this.rollouts.current();
      if (!r || r.state !== "running") return;
      // Items caught mid-update by a restart go first: they are already half-way.
      const todo = [
        ...this.rollouts.items(r.id, ["updating"]),
        ...this.rollouts.items(r.id, ["pending"]),
      ];
      if (todo.length === 0) {
        this.rollouts.setState(r.id, ["running"], "completed");
        log.info({ rollout: r.id, ...this.rollouts.counts(r.id) }, "roll-out completed");
        return;
      }
      const batch = todo.slice(0, batchSize);
      const n = this.rollouts.nextBatch(r.id);
      for (const i of batch) this.rollouts.setItem(r.id, i.atsign, "updating", { batch: n });
      log.info({ rollout: r.id, batch: n, atsigns: batch.map((i) => i.atsign) }, "batch started");
      await Promise.all(batch.map((i) => this.rollOne(r.id, i)));
      if (this.stopping) return;
      const failed = this.rollouts.counts(r.id).failed;
      if (failed > maxFailures) {
        const reason = `${failed} atServer(s) failed the new image (threshold ${maxFailures})`;
        this.rollouts.setState(r.id, ["running", "paused"], "stopped", reason);
        log.error({ rollout: r.id, batch: n, failed }, "roll-out stopped");
        return;
      }
      if (todo.length > batch.length) await this.pauseBetweenBatches(batchPauseMs);
    }
  }

  private async rollOne(id: number, item: RolloutItem): Promise<void> {
    const rec = this.d.store.get(item.atsign);
    if (!rec || rec.state !== "active" || rec.swarm !== item.swarm) {
      const why = !rec
        ? "gone"
        : rec.state !== "active"
          ? `${rec.state}: keeps ${item.fromImage}; the next roll-out takes it once active`
          : `moved to swarm ${rec.swarm} (placed there with that swarm's image)`;
      this.rollouts.setItem(id, item.atsign, "skipped", { detail: why });
      return;
    }
    const placement = this.d.placements.placementOf(rec)!;
    const secretFile = this.d.placements.secretFile(rec);
    const { atsign } = item;
    try {
      const res = await this.d.images.updateImage(atsign, placement, secretFile, item.toImage);
      if (this.stopping) return;
      if (res.outcome !== "updated") {
        const what = res.outcome === "rolled_back" ? "the orchestrator rolled it back" : "failed";
        return this.fail(id, item, `${what}: ${res.reason}`);
      }
      const probeError = await this.probe(atsign, placement);
      if (this.stopping) return;
      if (probeError === undefined) {
        this.rollouts.setItem(id, atsign, "done");
        log.info({ atsign, image: item.toImage }, "atServer rolled");
        return;
      }
      await this.d.images.revertImage(atsign, placement, secretFile, item.fromImage);
      this.fail(id, item, `no info:brief answer (${probeError}); reverted to ${item.fromImage}`);
    } catch (err) {
      if (this.stopping) return;
      this.fail(id, item, err instanceof Error ? err.message : String(err));
    }
  }

  private fail(id: number, item: RolloutItem, detail: string): void {
    this.rollouts.setItem(id, item.atsign, "failed", { detail });
    log.warn({ atsign: item.atsign, image: item.toImage, detail }, "atServer roll failed");
  }

  /** `info:brief` until it answers or the health timeout passes; the last error if never. */
  private async probe(atsign: string, p: Placement): Promise<string | undefined> {
    const deadline = Date.now() + this.d.config.healthTimeoutMs;
    let last = "no attempt";
    while (!this.stopping) {
      try {
        await this.d.healthProbe(atsign, p.host, p.port);
        return undefined;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() + PROBE_INTERVAL_MS > deadline) break;
      await delay(PROBE_INTERVAL_MS);
    }
    return last;
  }

  private pauseBetweenBatches(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

export class NothingToRollError extends ConflictError {
  override name = "NothingToRollError";
  constructor() {
    super("nothing to roll out: every active atServer runs its swarm's configured image");
  }
}

function sameTargets(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] !== undefined && b[k] !== undefined && sameImage(a[k], b[k]));
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
