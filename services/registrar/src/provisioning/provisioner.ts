import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isServableAtSign, shardedPath } from "../atsign";
import { PermanentProvisioningError } from "../errors";
import { provisionLogger as log } from "../logger";
import type { AtServerStatus, Orchestrator, Placement } from "../orchestrator/orchestrator";
import type { RegistrarStore, SwarmPorts } from "../store/registrar-store";
import {
  PENDING_STATES,
  PROVISIONING_STATES,
  type AtSignRecord,
  type AtSignState,
} from "../store/types";
import type { HealthProbe, RecordWriter, RootResolver } from "./ports";

export interface ProvisionerOptions {
  store: RegistrarStore;
  orchestrator: Orchestrator;
  records: RecordWriter;
  healthProbe: HealthProbe;
  /** Used to confirm directory writes and deletes; skipped when absent. */
  rootResolver?: RootResolver;
  swarms: SwarmPorts[];
  /** Where CRAM secret files are written (mode 0600). */
  secretsDir: string;
  /** How long a new atServer may take to answer `info:brief`. Default 30 s. */
  healthTimeoutMs?: number;
  /** How long to wait for the root to reflect a write or delete. Default 15 s. */
  rootTimeoutMs?: number;
  /** Fault injection for tests: stop making progress once this state is reached. */
  haltAfterState?: AtSignState;
  /** How many active atServers are (re)started at once on start-up. Default 4. */
  restartConcurrency?: number;
  /** Failed attempts of a provisioning step before giving up (state `failed`). Default 20. */
  maxAttempts?: number;
}

export function newCramSecret(): string {
  return randomBytes(64).toString("hex");
}

/**
 * Drives each atSign through its states. At most one worker runs per atSign in this process;
 * every step is idempotent and every transition a compare-and-set, so a step repeated after a
 * crash or a concurrent request does no harm.
 */
export class Provisioner {
  readonly events = new EventEmitter();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly abort = new AbortController();
  /** atSigns whose atServer this process has ensured (the rest are resumed ones). */
  private readonly supervised = new Set<string>();

  constructor(private readonly o: ProvisionerOptions) {
    this.events.setMaxListeners(0);
  }

  /**
   * Resumes every atSign with pending work, and (re)starts the atServers of active ones,
   * resolving once those answer `info:brief` (or failed to within the health timeout).
   */
  async resumeAll(): Promise<void> {
    for (const rec of this.o.store.list({ states: PENDING_STATES })) void this.drive(rec.atsign);
    // A few at a time: starting hundreds of atServers at once would starve the machine.
    const queue = this.o.store.list({ states: ["active"] });
    const worker = async (): Promise<void> => {
      for (let rec = queue.shift(); rec; rec = queue.shift()) {
        const placement = this.placementOf(rec);
        if (!placement || this.abort.signal.aborted) continue;
        try {
          await this.ensure(rec, placement);
          await this.waitHealthy(rec.atsign, placement);
        } catch (err) {
          log.error({ atsign: rec.atsign, err }, "atServer did not come back");
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.restartConcurrency ?? 4 }, worker));
  }

  /** What the orchestrator says about the atSign's atServer (admin status). */
  inspect(atsign: string): Promise<AtServerStatus> {
    return this.o.orchestrator.inspect(atsign);
  }

  /** Re-applies an active atSign's placement (e.g. a changed memory limit). */
  async reapply(rec: AtSignRecord): Promise<void> {
    const placement = this.placementOf(rec);
    if (rec.state !== "active" || !placement) return;
    await this.o.orchestrator.ensure(rec.atsign, placement, this.writeSecretFile(rec));
  }

  /** The CRAM secret file the orchestrator is given for the atSign (see writeSecretFile). */
  secretFile(rec: AtSignRecord): string {
    return this.writeSecretFile(rec);
  }

  /** Starts (or joins) the worker for `atsign`; resolves when it has nothing left to do. */
  drive(atsign: string): Promise<void> {
    this.events.emit("drive", atsign);
    const existing = this.running.get(atsign);
    if (existing) {
      this.again.add(atsign);
      return existing;
    }
    const p = (async () => {
      do {
        this.again.delete(atsign);
        await this.run(atsign);
      } while (this.again.has(atsign) && !this.abort.signal.aborted);
    })().finally(() => this.running.delete(atsign));
    this.running.set(atsign, p);
    return p;
  }

  /** Resolves with the record once `done(rec)` holds, or with the latest record on timeout. */
  waitFor(
    atsign: string,
    done: (rec: AtSignRecord | undefined) => boolean,
    timeoutMs: number,
  ): Promise<AtSignRecord | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const rec = this.o.store.get(atsign);
        if (done(rec)) {
          finish(rec);
          return true;
        }
        return false;
      };
      const onChange = (changed: string): void => {
        if (changed === atsign) check();
      };
      const timer = setTimeout(() => finish(this.o.store.get(atsign)), timeoutMs);
      const finish = (rec: AtSignRecord | undefined): void => {
        clearTimeout(timer);
        this.events.off("change", onChange);
        resolve(rec);
      };
      this.events.on("change", onChange);
      check();
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  placementOf(rec: AtSignRecord): Placement | undefined {
    if (rec.swarm === null || rec.port === null || rec.host === null) return undefined;
    const p: Placement = { swarm: rec.swarm, host: rec.host, port: rec.port };
    if (rec.memoryLimitMb !== null) p.memoryLimitMb = rec.memoryLimitMb;
    return p;
  }

  secretFilePath(atsign: string): string {
    return join(this.o.secretsDir, `${shardedPath(atsign).split("/")[1]}.cram`);
  }

  // ---------------------------------------------------------------------------------

  private async run(atsign: string): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const rec = this.o.store.get(atsign);
      if (!rec || !PENDING_STATES.includes(rec.state)) return;
      try {
        const next = await this.step(rec);
        failures = 0;
        this.events.emit("change", atsign);
        if (next && this.o.haltAfterState === next.state) {
          log.warn({ atsign, state: next.state }, "fault injection: halting provisioning");
          await sleep(2 ** 31 - 1, this.abort.signal);
          return;
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        failures++;
        const message = err instanceof Error ? err.message : String(err);
        const permanent = err instanceof PermanentProvisioningError;
        if (
          PROVISIONING_STATES.includes(rec.state) &&
          (permanent || failures >= (this.o.maxAttempts ?? 20))
        ) {
          await this.giveUp(
            rec,
            permanent ? message : `gave up after ${failures} attempts: ${message}`,
          );
          return;
        }
        this.o.store.failed(atsign, message);
        this.events.emit("change", atsign);
        const delay = Math.min(500 * 2 ** (failures - 1), 30_000);
        log.warn({ atsign, state: rec.state, err: message, retryInMs: delay }, "step failed");
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Stops whatever runs for the atSign and records why provisioning stopped trying. */
  private async giveUp(rec: AtSignRecord, reason: string): Promise<void> {
    this.supervised.delete(rec.atsign);
    await this.o.orchestrator.stop(rec.atsign).catch((err: Error) => {
      log.warn({ atsign: rec.atsign, err: err.message }, "could not stop the failed atServer");
    });
    this.o.store.giveUp(rec.atsign, reason);
    this.events.emit("change", rec.atsign);
    log.error({ atsign: rec.atsign, state: rec.state, reason }, "provisioning gave up");
  }

  private swarm(name?: string | null): SwarmPorts {
    const s = name ? this.o.swarms.find((x) => x.name === name) : this.o.swarms[0];
    if (!s) throw new Error(`unknown swarm ${name}`);
    return s;
  }

  private async allocate(rec: AtSignRecord, swarm: SwarmPorts): Promise<AtSignRecord | undefined> {
    const skip = new Set<number>();
    for (let i = 0; i < 256; i++) {
      const port = this.o.store.firstFreePort(swarm, skip);
      if (port === undefined) break;
      skip.add(port);
      const { portUsable } = this.o.orchestrator;
      if (portUsable && !(await portUsable.call(this.o.orchestrator, swarm.name, port))) continue;
      const r = this.o.store.allocate(rec, swarm, port);
      if (r !== "taken") return r;
    }
    throw new Error(`no free port in swarm ${swarm.name}`);
  }

  private async ensure(rec: AtSignRecord, placement: Placement): Promise<void> {
    await this.o.orchestrator.ensure(rec.atsign, placement, this.writeSecretFile(rec));
    this.supervised.add(rec.atsign);
  }

  /**
   * The file the orchestrator hands the atServer. Once the secret was handed out the atServer
   * holds its own copy (imported on first start), so the file is removed (or, for an
   * orchestrator that needs one, left as it is) rather than written.
   */
  private writeSecretFile(rec: AtSignRecord): string {
    const file = this.secretFilePath(rec.atsign);
    if (!rec.cramSecret) {
      this.forgetSecret(rec.atsign);
      return file;
    }
    mkdirSync(this.o.secretsDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, rec.cramSecret, { mode: 0o600 });
    renameSync(tmp, file);
    return file;
  }

  /** Removes the atSign's secret file (its secret was handed out) if the orchestrator can do without. */
  forgetSecret(atsign: string): void {
    if (this.o.orchestrator.startsWithoutSecret)
      rmSync(this.secretFilePath(atsign), { force: true });
  }

  private async step(rec: AtSignRecord): Promise<AtSignRecord | undefined> {
    const { store, orchestrator } = this.o;
    const placement = this.placementOf(rec);
    switch (rec.state) {
      case "requested":
        // A name stored before the shared grammar (or by hand) would only crash-loop.
        if (!isServableAtSign(rec.atsign))
          throw new PermanentProvisioningError(`@${rec.atsign} is not a valid atSign`);
        return this.allocate(rec, this.swarm());
      case "allocated":
      case "atserver_started": {
        if (!placement) throw new Error("no placement");
        // Re-ensuring in atserver_started restarts the atServer after a registrar restart.
        await this.ensure(rec, placement);
        if (rec.state === "allocated") return store.transition(rec, "atserver_started");
        await this.waitHealthy(rec.atsign, placement);
        return store.transition(rec, "healthy");
      }
      case "healthy":
      case "directory_written": {
        if (!placement) throw new Error("no placement");
        // Resumed here after a registrar restart: take the atServer (back) under this
        // process's supervision before the atSign is published or declared active.
        if (!this.supervised.has(rec.atsign)) {
          await this.ensure(rec, placement);
          await this.waitHealthy(rec.atsign, placement);
        }
        const address = `${placement.host}:${placement.port}`;
        if (rec.state === "healthy") {
          await this.o.records.set(rec.atsign, address);
          return store.transition(rec, "directory_written");
        }
        await this.waitRoot(rec.atsign, address);
        return store.transition(rec, "active");
      }
      case "suspending":
        this.supervised.delete(rec.atsign);
        await orchestrator.stop(rec.atsign);
        await this.o.records.delete(rec.atsign);
        await this.waitRoot(rec.atsign, null);
        return store.transition(rec, "suspended");
      case "resetting":
        this.supervised.delete(rec.atsign);
        // The new secret was stored with the reset request; the old storage is archived.
        await this.o.records.delete(rec.atsign);
        await orchestrator.remove(rec.atsign);
        return placement ? store.transition(rec, "allocated") : store.transition(rec, "requested");
      case "moving": {
        const target = this.swarm(rec.moveTo);
        const moved = await this.allocate(rec, target);
        if (!moved) return undefined;
        const to = this.placementOf(moved)!;
        if (placement)
          await orchestrator.move(rec.atsign, placement, to, this.writeSecretFile(moved));
        else await orchestrator.ensure(rec.atsign, to, this.writeSecretFile(moved));
        this.supervised.add(rec.atsign);
        return store.transition(moved, "atserver_started");
      }
      case "deleting":
        this.supervised.delete(rec.atsign);
        await orchestrator.remove(rec.atsign);
        await this.o.records.delete(rec.atsign);
        await this.waitRoot(rec.atsign, null);
        rmSync(this.secretFilePath(rec.atsign), { force: true });
        return store.markDeleted(rec);
      default:
        return undefined;
    }
  }

  private async waitHealthy(atsign: string, p: Placement): Promise<void> {
    const deadline = Date.now() + (this.o.healthTimeoutMs ?? 30_000);
    let last: unknown;
    for (let i = 0; Date.now() < deadline && !this.abort.signal.aborted; i++) {
      try {
        await this.o.healthProbe(atsign, p.host, p.port);
        return;
      } catch (err) {
        last = err;
        // About once a second: has the orchestrator seen it fail for good?
        if (i % 10 === 9) {
          const status = await this.o.orchestrator.inspect(atsign).catch(() => undefined);
          if (status?.state === "failed") throw new PermanentProvisioningError(status.error);
        }
        await sleep(100, this.abort.signal);
      }
    }
    throw new Error(
      `atServer did not answer info:brief: ${last instanceof Error ? last.message : String(last)}`,
    );
  }

  /** Polls the root until it answers `expected` (host:port, or null after a delete). */
  private async waitRoot(atsign: string, expected: string | null): Promise<void> {
    const resolver = this.o.rootResolver;
    if (!resolver) return;
    const deadline = Date.now() + (this.o.rootTimeoutMs ?? 15_000);
    let seen: string | null | undefined;
    while (Date.now() < deadline && !this.abort.signal.aborted) {
      try {
        seen = await resolver(atsign);
        if (seen === expected) return;
      } catch (err) {
        seen = `error: ${err instanceof Error ? err.message : String(err)}`;
      }
      await sleep(100, this.abort.signal);
    }
    throw new Error(`root answers ${seen} for ${atsign}, expected ${expected}`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
