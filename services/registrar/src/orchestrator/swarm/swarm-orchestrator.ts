import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { orchestratorLogger } from "../../logger";
import {
  sameImage,
  type AtServerStatus,
  type ImageRollouts,
  type ImageUpdateResult,
  type Orchestrator,
  type Placement,
} from "../orchestrator";
import { EngineClient } from "./engine-client";
import {
  EngineConflictError,
  EngineNotFoundError,
  EngineTimeoutError,
  StorageJobError,
} from "./errors";
import { ensureMetricsAgent } from "./metrics-agent";
import { ensureCaSecret, ensureCramSecret, removeCramSecrets, wildcardPair } from "./secrets";
import {
  archiveRelPath,
  atServerServiceSpec,
  caSecretName,
  cramSecretName,
  DEFAULT_UPDATE_POLICY,
  jobName,
  LABEL_ATSIGN,
  LABEL_IMAGE,
  LABEL_HOST,
  LABEL_KIND,
  LABEL_MEMORY,
  LABEL_PORT,
  LABEL_SPEC,
  storageJobSpec,
  storageRelPath,
  type AtServerSecrets,
  type SecretRef,
} from "./service-spec";
import {
  validateSwarmOrchestratorConfig,
  type SwarmConfig,
  type SwarmOrchestratorConfig,
} from "./swarm-config";

const log = orchestratorLogger.child({ orchestrator: "swarm" });

interface ServiceSecret {
  SecretID: string;
  SecretName: string;
  File?: { Name: string };
}

/** The parts of an Engine `Service` object we read. */
export interface EngineService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate?: { ContainerSpec?: { Image?: string; Secrets?: ServiceSecret[] } };
    [k: string]: unknown;
  };
  /** Swarm's progress of the last update: updating, paused, completed, rollback_… . */
  UpdateStatus?: { State?: string; Message?: string };
}

export interface EngineTask {
  ID: string;
  Spec?: { ContainerSpec?: { Image?: string } };
  DesiredState?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { PID?: number; ExitCode?: number } };
}

// Task states in which a container may still be running or about to run.
const ACTIVE = new Set([
  "new",
  "allocated",
  "pending",
  "assigned",
  "accepted",
  "preparing",
  "ready",
  "starting",
  "running",
]);

/**
 * Runs each atSign's atServer as a one-replica Docker Swarm service, found again by its
 * labels. Calls for one atSign are serialised in this process; across registrars the
 * deterministic service name makes the engine refuse a second create (409), after which the
 * existing service is re-inspected and converged instead.
 */
export class SwarmOrchestrator implements Orchestrator, ImageRollouts {
  readonly name = "swarm";
  readonly rollouts: ImageRollouts = this;
  private readonly clients = new Map<string, EngineClient>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly cfg: SwarmOrchestratorConfig) {
    validateSwarmOrchestratorConfig(cfg);
    for (const s of cfg.swarms)
      this.clients.set(
        s.name,
        new EngineClient(s, cfg.callTimeoutMs ?? 10_000, cfg.apiVersion ?? "v1.43"),
      );
  }

  /** Ensures each swarm's per-node metrics agent; a swarm that fails is logged, not fatal. */
  async prepare(): Promise<void> {
    await Promise.all(
      [...this.clients.values()].map((c) =>
        ensureMetricsAgent(c).catch((err: Error) =>
          log.warn({ swarm: c.swarm.name, err: err.message }, "metrics agent not ensured"),
        ),
      ),
    );
  }

  ensure(atsign: string, placement: Placement, secretFile: string): Promise<void> {
    return this.locked(atsign, () => this.ensureUnlocked(atsign, placement, secretFile));
  }

  inspect(atsign: string): Promise<AtServerStatus> {
    return this.locked(atsign, async () => {
      const found = await this.findEverywhere(atsign);
      // During a move both swarms may hold one; the one meant to run wins.
      const pick = found.find((f) => replicas(f.svc) > 0) ?? found[0];
      if (!pick) return { state: "absent" };
      const placement = placementOf(pick.client.swarm, pick.svc);
      if (replicas(pick.svc) === 0) return { state: "stopped", placement };
      let tasks: EngineTask[];
      try {
        tasks = await this.tasks(pick.client, pick.svc.ID);
      } catch (err) {
        // Removed between the two calls.
        if (err instanceof EngineNotFoundError) return { state: "absent" };
        throw err;
      }
      const running = tasks.find(
        (t) => t.DesiredState === "running" && t.Status?.State === "running",
      );
      const restarts = tasks.filter((t) =>
        ["failed", "rejected", "orphaned"].includes(t.Status?.State ?? ""),
      ).length;
      if (!running) return { state: "stopped", placement };
      const pid = running.Status?.ContainerStatus?.PID;
      return { state: "running", placement, restarts, ...(pid ? { pid } : {}) };
    });
  }

  stop(atsign: string): Promise<void> {
    return this.locked(atsign, async () => {
      for (const f of await this.findEverywhere(atsign)) await this.scaleToZero(f.client, f.svc);
    });
  }

  remove(atsign: string): Promise<{ archivedTo?: string }> {
    return this.locked(atsign, async () => {
      const found = await this.findEverywhere(atsign);
      for (const f of found) await this.removeService(f.client, f.svc, atsign);
      // A remove interrupted after its service went left the CRAM secrets: they go now.
      for (const client of this.clients.values())
        if (!found.some((f) => f.client === client)) await removeCramSecrets(client, atsign);
      // Storage is on the share every swarm mounts; any swarm can archive it.
      const client = found[0]?.client ?? this.client(this.cfg.swarms[0]!.name);
      const rel = archiveRelPath(atsign, (this.cfg.now ?? (() => new Date()))());
      const job = await this.runJob(client, "archive", atsign, [
        storageRelPath(atsign),
        rel,
        atsign,
      ]);
      if (job.code === 3) return {};
      // An adopted job (left by an interrupted remove) archived under its own name.
      const archivedTo = posix.join(client.swarm.storageRoot, job.args[1] ?? rel);
      log.info({ atsign, archivedTo }, "atServer storage archived");
      return { archivedTo };
    });
  }

  move(atsign: string, from: Placement, to: Placement, secretFile: string): Promise<void> {
    // ensure already stops (and waits for) the atSign's service in every other swarm before
    // starting it in `to`, then removes the old one: a move is an ensure elsewhere.
    return this.locked(atsign, async () => {
      await this.ensureUnlocked(atsign, to, secretFile);
      log.info({ atsign, from: from.swarm, to: to.swarm }, "atServer moved");
    });
  }

  async close(): Promise<void> {
    // Nothing is held: services keep running in their swarms.
    await Promise.allSettled([...this.locks.values()]);
  }

  // ImageRollouts ----------------------------------------------------------------

  targetImages(): Record<string, string> {
    return Object.fromEntries(this.cfg.swarms.map((s) => [s.name, s.image]));
  }

  async currentImages(): Promise<Map<string, { swarm: string; image: string }>> {
    const out = new Map<string, { swarm: string; image: string; live: boolean }>();
    for (const client of this.clients.values()) {
      const list = await client.call<EngineService[]>({
        method: "GET",
        path: "/services",
        query: { filters: { label: [`${LABEL_KIND}=atserver`] } },
      });
      for (const svc of list) {
        const atsign = svc.Spec.Labels?.[LABEL_ATSIGN];
        const image = imageOf(svc);
        if (!atsign || !image) continue;
        // Mid-move an atSign has a service in two swarms: the one meant to run counts.
        const live = replicas(svc) > 0;
        if (out.get(atsign)?.live && !live) continue;
        out.set(atsign, { swarm: client.swarm.name, image, live });
      }
    }
    return new Map([...out].map(([a, v]) => [a, { swarm: v.swarm, image: v.image }]));
  }

  async updateImage(
    atsign: string,
    placement: Placement,
    secretFile: string,
    image: string,
  ): Promise<ImageUpdateResult> {
    const client = this.client(placement.swarm);
    // Only the spec change holds the atSign's lock; the wait for Swarm's verdict does not.
    const id = await this.locked(atsign, async () => {
      const svc = await this.find(client, atsign);
      if (!svc) return undefined;
      const cram = readFileSync(secretFile, "utf8");
      await this.converge(client, atsign, placement, cram, svc, image);
      return svc.ID;
    });
    if (!id)
      return { outcome: "failed", reason: `no atServer service in swarm ${client.swarm.name}` };
    const result = await this.waitForUpdate(client, id, image);
    log.info({ atsign, swarm: client.swarm.name, image, ...result }, "atServer image update");
    return result;
  }

  async revertImage(
    atsign: string,
    placement: Placement,
    secretFile: string,
    image: string,
  ): Promise<void> {
    const result = await this.updateImage(atsign, placement, secretFile, image);
    if (result.outcome !== "updated")
      throw new EngineTimeoutError(
        `revert to ${image} did not complete: ${result.reason}`,
        placement.swarm,
        "image revert",
      );
  }

  /**
   * Polls the service until Swarm has finished the update: `completed` with a running task
   * of `image` is success; a rollback or a paused update is the gate failing. An update
   * that changed nothing leaves no UpdateStatus: the running task's image decides.
   */
  private async waitForUpdate(
    client: EngineClient,
    id: string,
    image: string,
  ): Promise<ImageUpdateResult> {
    const deadline = Date.now() + (this.cfg.updateTimeoutMs ?? 300_000);
    for (;;) {
      const svc = await client.call<EngineService>({ method: "GET", path: `/services/${id}` });
      const state = svc.UpdateStatus?.State;
      const message = svc.UpdateStatus?.Message ?? state ?? "";
      if (state === "rollback_completed") return { outcome: "rolled_back", reason: message };
      if (state === "paused" || state === "rollback_paused")
        return { outcome: "failed", reason: `update ${state}: ${message}` };
      if (state === undefined || state === "completed") {
        const tasks = await this.tasks(client, id);
        const live = tasks.find(
          (t) => t.DesiredState === "running" && t.Status?.State === "running",
        );
        const liveImage = live?.Spec?.ContainerSpec?.Image;
        if (liveImage && sameImage(liveImage, image) && sameImage(imageOf(svc) ?? "", image))
          return { outcome: "updated" };
      }
      if (Date.now() > deadline)
        return { outcome: "failed", reason: `Swarm did not finish the update (${message})` };
      await sleep(this.cfg.pollMs ?? 1000);
    }
  }

  // ---------------------------------------------------------------------------------

  private client(swarm: string): EngineClient {
    const c = this.clients.get(swarm);
    if (!c) throw new Error(`unknown swarm ${swarm}`);
    return c;
  }

  private locked<T>(atsign: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(atsign) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(atsign, settled);
    void settled.then(() => {
      if (this.locks.get(atsign) === settled) this.locks.delete(atsign);
    });
    return next;
  }

  private async ensureUnlocked(atsign: string, placement: Placement, secretFile: string) {
    const client = this.client(placement.swarm);
    // Read here and sent only as a Docker secret: never in env, args or logs.
    const cram = readFileSync(secretFile, "utf8");
    const existing = await this.find(client, atsign);
    // A service of this atSign in another swarm (a move, or a retried move after a crash):
    // stop it and wait before starting here, so two atServers never share the storage.
    const elsewhere: { client: EngineClient; svc: EngineService }[] = [];
    for (const other of this.clients.values()) {
      if (other === client) continue;
      const svc = await this.find(other, atsign);
      if (svc) elsewhere.push({ client: other, svc });
    }
    for (const e of elsewhere) await this.scaleToZero(e.client, e.svc);
    if (existing) await this.converge(client, atsign, placement, cram, existing);
    else await this.create(client, atsign, placement, cram);
    for (const e of elsewhere) await this.removeService(e.client, e.svc, atsign);
  }

  private async create(
    client: EngineClient,
    atsign: string,
    placement: Placement,
    cram: string,
  ): Promise<void> {
    await this.runJob(client, "mkdir", atsign, [storageRelPath(atsign)]);
    const tls = await wildcardPair(client);
    const cramRef = await ensureCramSecret(client, atsign, cram);
    const pem = client.swarm.atServerCa;
    const ca = pem ? await ensureCaSecret(client, pem) : undefined;
    const spec = this.spec(client.swarm, atsign, placement, client.swarm.image, {
      ...tls,
      cram: cramRef,
      ca,
    });
    try {
      const res = await client.call<{ ID: string }>({
        method: "POST",
        path: "/services/create",
        body: spec,
      });
      log.info({ atsign, swarm: client.swarm.name, service: res.ID }, "atServer service created");
    } catch (err) {
      if (!(err instanceof EngineConflictError)) throw err;
      // Another registrar created it between our lookup and our create.
      const raced = await this.find(client, atsign);
      if (!raced) throw err;
      log.info({ atsign, swarm: client.swarm.name }, "service created concurrently; converging");
      await this.converge(client, atsign, placement, cram, raced);
    }
  }

  /**
   * Updates an existing service to the wanted spec (and one replica), if it differs. The
   * service keeps the image it runs unless `image` says otherwise (an image roll-out).
   */
  private async converge(
    client: EngineClient,
    atsign: string,
    placement: Placement,
    cram: string,
    svc: EngineService,
    image: string = imageOf(svc) ?? client.swarm.image,
  ): Promise<void> {
    const have = svc.Spec.TaskTemplate?.ContainerSpec?.Secrets ?? [];
    const ref = (target: string): SecretRef | undefined => {
      const s = have.find((x) => x.File?.Name === target);
      return s ? { id: s.SecretID, name: s.SecretName } : undefined;
    };
    // Keep the TLS pair the service has: the swarm's maintenance job rotates it.
    const cert = ref("atserver-tls.crt");
    const key = ref("atserver-tls.key");
    const tls = cert && key ? { cert, key } : await wildcardPair(client);
    const haveCram = ref("atserver-cram");
    const cramName = cramSecretName(atsign, cram);
    const cramRef =
      haveCram?.name === cramName ? haveCram : await ensureCramSecret(client, atsign, cram);
    const pem = client.swarm.atServerCa;
    const haveCa = ref("atserver-ca.pem");
    const ca = !pem
      ? undefined
      : haveCa?.name === caSecretName(pem)
        ? haveCa
        : await ensureCaSecret(client, pem);
    const spec = this.spec(client.swarm, atsign, placement, image, {
      ...tls,
      cram: cramRef,
      ca,
    });
    const wanted = (spec.Labels as Record<string, string>)[LABEL_SPEC];
    if (svc.Spec.Labels?.[LABEL_SPEC] === wanted && replicas(svc) === 1) return;
    await client.call({
      method: "POST",
      path: `/services/${svc.ID}/update`,
      query: { version: svc.Version.Index },
      body: spec,
    });
    log.info({ atsign, swarm: client.swarm.name, service: svc.ID }, "atServer service updated");
    if (haveCram && haveCram.name !== cramName) await removeCramSecrets(client, atsign, cramName);
  }

  private spec(
    swarm: SwarmConfig,
    atsign: string,
    placement: Placement,
    image: string,
    secrets: AtServerSecrets,
  ): Record<string, unknown> {
    return atServerServiceSpec({
      atsign,
      swarm,
      image,
      update: {
        monitorMs: this.cfg.updateMonitorMs ?? DEFAULT_UPDATE_POLICY.monitorMs,
        failureAction: this.cfg.updateFailureAction ?? DEFAULT_UPDATE_POLICY.failureAction,
      },
      placement,
      memoryLimitMb: placement.memoryLimitMb ?? this.cfg.memoryLimitMb ?? 50,
      rootAddress: this.cfg.rootAddress,
      secrets,
    });
  }

  private async find(client: EngineClient, atsign: string): Promise<EngineService | undefined> {
    const list = await client.call<EngineService[]>({
      method: "GET",
      path: "/services",
      query: { filters: { label: [`${LABEL_ATSIGN}=${atsign}`, `${LABEL_KIND}=atserver`] } },
    });
    // Label filters match by value already; the exact check guards against a lax engine.
    const mine = list.filter((s) => s.Spec.Labels?.[LABEL_ATSIGN] === atsign);
    if (mine.length > 1)
      log.error({ atsign, swarm: client.swarm.name, n: mine.length }, "several services found");
    return mine.sort((a, b) => a.ID.localeCompare(b.ID))[0];
  }

  private async findEverywhere(
    atsign: string,
  ): Promise<{ client: EngineClient; svc: EngineService }[]> {
    const out: { client: EngineClient; svc: EngineService }[] = [];
    for (const client of this.clients.values()) {
      const svc = await this.find(client, atsign);
      if (svc) out.push({ client, svc });
    }
    return out;
  }

  private tasks(client: EngineClient, serviceId: string): Promise<EngineTask[]> {
    return client.call<EngineTask[]>({
      method: "GET",
      path: "/tasks",
      query: { filters: { service: [serviceId] } },
    });
  }

  private async scaleToZero(client: EngineClient, svc: EngineService): Promise<void> {
    if (replicas(svc) !== 0) {
      const spec = { ...svc.Spec, Mode: { Replicated: { Replicas: 0 } } };
      await client.call({
        method: "POST",
        path: `/services/${svc.ID}/update`,
        query: { version: svc.Version.Index },
        body: spec,
      });
      svc.Spec = spec;
      svc.Version = { Index: svc.Version.Index + 1 };
    }
    await this.waitTasksEnded(client, svc.ID);
  }

  private async removeService(client: EngineClient, svc: EngineService, atsign: string) {
    await this.scaleToZero(client, svc);
    try {
      await client.call({ method: "DELETE", path: `/services/${svc.ID}` });
    } catch (err) {
      if (!(err instanceof EngineNotFoundError)) throw err;
    }
    await removeCramSecrets(client, atsign);
    log.info({ atsign, swarm: client.swarm.name, service: svc.ID }, "atServer service removed");
  }

  private async waitTasksEnded(client: EngineClient, serviceId: string): Promise<void> {
    const deadline = Date.now() + (this.cfg.stopTimeoutMs ?? 60_000);
    for (;;) {
      const tasks = await this.tasks(client, serviceId);
      if (!tasks.some((t) => ACTIVE.has(t.Status?.State ?? ""))) return;
      if (Date.now() > deadline)
        throw new EngineTimeoutError(
          "atServer task still running after stop",
          client.swarm.name,
          `GET /tasks (service ${serviceId})`,
        );
      await sleep(this.cfg.pollMs ?? 1000);
    }
  }

  /**
   * Runs a one-shot storage job to completion and removes it. Returns the task's exit code
   * (0, or 3 for "nothing to archive"); other failures throw StorageJobError.
   */
  private async runJob(
    client: EngineClient,
    kind: "mkdir" | "archive",
    atsign: string,
    args: string[],
  ): Promise<{ code: number; args: string[] }> {
    // Another registrar that adopted our mkdir job removes it once it ended, however it
    // ended: mkdir is idempotent, so run it again to learn the outcome.
    for (let attempt = 1; ; attempt++) {
      const res = await this.runJobOnce(client, kind, atsign, args);
      if (res !== "removed") return res;
      if (attempt >= 3)
        throw new StorageJobError(
          "removed by others 3 times",
          client.swarm.name,
          `storage job ${kind}`,
        );
      log.info({ atsign, job: kind }, "storage job removed by another registrar; running it again");
    }
  }

  private async runJobOnce(
    client: EngineClient,
    kind: "mkdir" | "archive",
    atsign: string,
    args: string[],
  ): Promise<{ code: number; args: string[] } | "removed"> {
    const image = this.cfg.jobImage ?? "busybox:1.36";
    const spec = storageJobSpec(kind, atsign, client.swarm, image, args);
    let id: string;
    let adopted = false;
    try {
      id = (
        await client.call<{ ID: string }>({ method: "POST", path: "/services/create", body: spec })
      ).ID;
    } catch (err) {
      if (!(err instanceof EngineConflictError)) throw err;
      // Left over from an interrupted attempt, or another registrar's: adopt it and its args.
      const other = await client.call<EngineService>({
        method: "GET",
        path: `/services/${jobName(kind, atsign)}`,
      });
      id = other.ID;
      adopted = true;
      const command = (other.Spec.TaskTemplate?.ContainerSpec as { Command?: string[] } | undefined)
        ?.Command;
      if (command && command.length > 4) args = command.slice(4);
    }
    const call = `storage job ${kind}`;
    try {
      const deadline = Date.now() + (this.cfg.jobTimeoutMs ?? 120_000);
      for (;;) {
        let tasks: EngineTask[];
        try {
          tasks = await this.tasks(client, id);
        } catch (err) {
          // An adopted mkdir removed by its owner once done: the directory is there.
          if (adopted && kind === "mkdir" && err instanceof EngineNotFoundError)
            return { code: 0, args };
          if (kind === "mkdir" && err instanceof EngineNotFoundError) return "removed";
          throw err;
        }
        if (tasks.some((t) => t.Status?.State === "complete")) return { code: 0, args };
        const failed = tasks.find((t) => ["failed", "rejected"].includes(t.Status?.State ?? ""));
        if (failed) {
          const code = failed.Status?.ContainerStatus?.ExitCode;
          if (kind === "archive" && code === 3) return { code: 3, args };
          throw new StorageJobError(
            `${failed.Status?.State} (exit ${code ?? "?"}): ${failed.Status?.Err ?? ""}`.trim(),
            client.swarm.name,
            call,
          );
        }
        if (Date.now() > deadline)
          throw new StorageJobError("did not finish in time", client.swarm.name, call);
        await sleep(this.cfg.pollMs ?? 1000);
      }
    } finally {
      await client.call({ method: "DELETE", path: `/services/${id}` }).catch((err: Error) => {
        if (!(err instanceof EngineNotFoundError))
          log.warn({ atsign, job: kind, err: err.message }, "storage job not removed");
      });
    }
  }
}

/** The image the registrar set on the service (label), else the engine's copy. */
function imageOf(svc: EngineService): string | undefined {
  return svc.Spec.Labels?.[LABEL_IMAGE] ?? svc.Spec.TaskTemplate?.ContainerSpec?.Image;
}

function replicas(svc: EngineService): number {
  return svc.Spec.Mode?.Replicated?.Replicas ?? 0;
}

function placementOf(swarm: SwarmConfig, svc: EngineService): Placement {
  const l = svc.Spec.Labels ?? {};
  const mem = Number(l[LABEL_MEMORY]);
  return {
    swarm: swarm.name,
    host: l[LABEL_HOST] ?? swarm.publicHost,
    port: Number(l[LABEL_PORT]),
    ...(Number.isInteger(mem) && mem > 0 ? { memoryLimitMb: mem } : {}),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
