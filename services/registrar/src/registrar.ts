import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { resolveConfig, type RegistrarConfig } from "./config";
import { createHttpServer } from "./http/server";
import { registrarLogger as log } from "./logger";
import { LogMailer, type Mailer } from "./mail/mailer";
import type { Orchestrator } from "./orchestrator/orchestrator";
import type { HealthProbe, RecordWriter, RootResolver } from "./provisioning/ports";
import { Provisioner } from "./provisioning/provisioner";
import { RegistrarService } from "./service";
import { RegistrarStore } from "./store/registrar-store";
import { AccessKeys } from "./keys/access-keys";
import { RolloutController } from "./rollout/rollout-controller";
import { MetricsHttpServer } from "@atplatform/protocol/src/metrics-http";
import { RegistrarMetrics } from "./metrics";
import { PlatformProber, type ProberDeps } from "./probe/platform-prober";

export interface RegistrarDeps {
  orchestrator: Orchestrator;
  records: RecordWriter;
  healthProbe: HealthProbe;
  rootResolver?: RootResolver;
  mailer?: Mailer;
  /** The platform prober's endpoints; it runs when given, with metrics on (config.probe). */
  prober?: ProberDeps;
}

/** The registrar: HTTP pages and APIs in front of a persisted provisioning state machine. */
export class Registrar {
  private server?: Server;
  private metricsHttp?: MetricsHttpServer;
  private prober?: PlatformProber;
  /** The metrics listener's bound port, when REGISTRAR_METRICS_PORT is set. */
  metricsPort?: number;

  private constructor(
    readonly config: RegistrarConfig,
    readonly store: RegistrarStore,
    readonly provisioner: Provisioner,
    readonly service: RegistrarService,
    private readonly deps: RegistrarDeps,
    readonly keys: AccessKeys,
    readonly rollout?: RolloutController,
    readonly metrics?: RegistrarMetrics,
  ) {}

  static async create(
    input: Partial<RegistrarConfig> & { dataDir: string; apiKey: string; adminKey: string },
    deps: RegistrarDeps,
  ): Promise<Registrar> {
    const config = resolveConfig(input);
    const store = new RegistrarStore(join(config.dataDir, "registrar.sqlite"));
    const metrics = config.metricsPort !== undefined ? new RegistrarMetrics(store) : undefined;
    const orchestrator = metrics?.orchestrator(deps.orchestrator) ?? deps.orchestrator;
    const mailer = deps.mailer ?? new LogMailer();
    const provisioner = new Provisioner({
      store,
      orchestrator,
      records: deps.records,
      healthProbe: deps.healthProbe,
      rootResolver: deps.rootResolver,
      swarms: config.swarms,
      secretsDir: join(config.dataDir, "secrets"),
      healthTimeoutMs: config.healthTimeoutMs,
      rootTimeoutMs: config.rootTimeoutMs,
      haltAfterState: config.haltAfterState,
      maxAttempts: config.provisionMaxAttempts,
    });
    metrics?.watch(provisioner);
    const plain = new RegistrarService({
      store,
      provisioner,
      mailer: metrics?.mailer(mailer) ?? mailer,
      activationWaitMs: config.activationWaitMs,
      maxAtSignsPerEmail: config.maxAtSignsPerEmail,
      reservationTtlMs: config.reservationTtlMs,
    });
    const service = metrics?.service(plain) ?? plain;
    const keys = new AccessKeys(store.db);
    keys.adopt("api", config.apiKey, config.keyOverlapMs);
    keys.adopt("admin", config.adminKey, config.keyOverlapMs);
    const images = deps.orchestrator.rollouts;
    const rollout = images
      ? new RolloutController({
          store,
          images,
          placements: provisioner,
          healthProbe: deps.healthProbe,
          config: config.rollout,
        })
      : undefined;
    return new Registrar(config, store, provisioner, service, deps, keys, rollout, metrics);
  }

  /** Listens, then resumes unfinished provisioning and restarts active atServers. */
  async start(): Promise<void> {
    const server = createHttpServer(this.service, {
      keys: this.keys,
      keyOverlapMs: this.config.keyOverlapMs,
      rollout: this.rollout,
      orchestrator: this.deps.orchestrator.name,
      swarms: this.config.swarms.map((s) => s.name),
      bodyLimit: this.config.bodyLimit,
      secureCookies: this.config.secureCookies,
      apiLimits: this.config.apiLimits,
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.config.port, this.config.bindHost, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    log.info({ url: this.url }, "registrar listening");
    if (this.metrics && this.config.metricsPort !== undefined) {
      const metrics = this.metrics;
      this.metricsHttp = new MetricsHttpServer(() => metrics.render());
      this.metricsPort = await this.metricsHttp.listen(
        this.config.metricsPort,
        this.config.metricsHost,
      );
      log.info({ host: this.config.metricsHost, port: this.metricsPort }, "metrics listening");
      if (this.deps.prober && this.config.probe.intervalMs > 0) {
        this.prober = new PlatformProber({
          store: this.store,
          swarms: this.config.swarms,
          settings: this.config.probe,
          deps: this.deps.prober,
          sink: metrics,
        });
        this.prober.start();
      }
    }
    // A registrar that has never registered anyone vouches for an empty directory, so a new
    // deployment answers `null` rather than closing lookups. With any atSign on record the
    // mark is left to the writes: a primary that came back empty must stay unmarked.
    const counts = this.store.countByState();
    if (Object.values(counts).every((n) => n === 0)) await this.deps.records.markPopulated?.();
    await this.deps.orchestrator.prepare?.();
    await this.provisioner.resumeAll();
    // After the restarts (which keep every atServer's image): roll the outdated ones, gated.
    void this.rollout?.resume().catch((err: unknown) => log.error({ err }, "roll-out not resumed"));
  }

  /** Runs one prober round now (operators' and tests' "probe now"); a no-op when it is off. */
  async probeNow(): Promise<void> {
    await this.prober?.runOnce();
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.config.port;
  }

  get url(): string {
    const host = this.config.bindHost.includes(":")
      ? `[${this.config.bindHost}]`
      : this.config.bindHost;
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${this.port}`;
  }

  /** Stops HTTP, provisioning workers and (by default) the atServers it runs. */
  async stop(opts: { stopAtServers?: boolean } = {}): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    }
    await this.prober?.stop();
    this.prober = undefined;
    await this.metricsHttp?.close();
    this.metrics?.close();
    await this.rollout?.stop();
    await this.provisioner.stop();
    if (opts.stopAtServers !== false) await this.deps.orchestrator.close();
    await this.deps.records.close?.();
    this.deps.mailer?.close?.();
    this.store.close();
  }
}
