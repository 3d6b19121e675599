// The registrar's view of the platform from outside: every round it looks up a random sample
// of active atSigns through the public root endpoint and reads the notAfter of the
// certificates it meets (root, its own public URL, one atServer port per swarm, each swarm's
// Engine API). Runs on its own timer, apart from registrations; every failure is counted.
import { proberLogger as log } from "../logger";
import type { RootResolver } from "../provisioning/ports";
import type { RegistrarStore, SwarmPorts } from "../store/registrar-store";
import { readCertificateNotAfter, type CertKind, type CertTarget } from "./cert-expiry";
import { probeDirectory, type DirectoryProbeResult } from "./directory-probe";

/** Lookups in flight at once, so one slow answer does not stretch the round by the sample. */
const CONCURRENCY = 4;

export interface ProbeSettings {
  /** Time between rounds, ms. */
  intervalMs: number;
  /** Most atSigns looked up per round. */
  sampleSize: number;
  /** Deadline of each lookup and each TLS handshake, ms. */
  timeoutMs: number;
}

export interface ProberDeps {
  /** Asks the public root endpoint over verified TLS; null = the root answered null. */
  lookup: RootResolver;
  /** Endpoints whose certificates are read every round (root, public URL, Engine APIs). */
  certTargets: CertTarget[];
}

/** Where the prober's findings go (the registrar's metrics). */
export interface ProbeSink {
  directoryProbe(result: DirectoryProbeResult): void;
  certificate(cert: CertKind, target: string, notAfterSeconds: number): void;
  certificateError(cert: CertKind, target: string): void;
}

export class PlatformProber {
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly o: {
      store: RegistrarStore;
      swarms: SwarmPorts[];
      settings: ProbeSettings;
      deps: ProberDeps;
      sink: ProbeSink;
    },
  ) {}

  /** First round now, then one per interval; a round still running makes the next skip. */
  start(): void {
    const tick = (): void => {
      if (!this.round) void this.runOnce();
    };
    this.timer = setInterval(tick, this.o.settings.intervalMs);
    this.timer.unref();
    tick();
  }

  /** One round; never rejects. */
  runOnce(): Promise<void> {
    if (this.round) return this.round;
    const round = Promise.all([this.probeDirectory(), this.readCertificates()])
      .then(() => undefined)
      .catch((err: unknown) => log.warn({ err }, "probe round failed"))
      .finally(() => {
        this.round = undefined;
      });
    this.round = round;
    return round;
  }

  /** Stops the timer and waits for a round in flight (bounded by its timeouts). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
  }

  private async probeDirectory(): Promise<void> {
    const queue = this.o.store.sampleActive(this.o.settings.sampleSize);
    const worker = async (): Promise<void> => {
      for (let rec = queue.shift(); rec && !this.stopped; rec = queue.shift()) {
        const result = await probeDirectory(rec, this.o.deps.lookup, this.o.store);
        if (result) this.o.sink.directoryProbe(result);
        if (result !== undefined && result !== "ok")
          log.warn({ atsign: rec.atsign, result }, "directory probe failed");
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }

  private async readCertificates(): Promise<void> {
    for (const target of [...this.o.deps.certTargets, ...this.atServerTargets()]) {
      if (this.stopped) return;
      try {
        const notAfter = await readCertificateNotAfter(target, this.o.settings.timeoutMs);
        this.o.sink.certificate(target.cert, target.target, notAfter);
      } catch (err) {
        this.o.sink.certificateError(target.cert, target.target);
        log.warn(
          { cert: target.cert, target: target.target, err: (err as Error).message },
          "certificate read failed",
        );
      }
    }
  }

  /** One atServer port per swarm that has an active atSign (the swarm's wildcard cert). */
  private atServerTargets(): CertTarget[] {
    return this.o.swarms.flatMap((swarm) => {
      const rec = this.o.store.anyActiveOn(swarm.name);
      if (!rec?.host || !rec.port) return [];
      return [
        { cert: "swarm_wildcard" as const, target: swarm.name, host: rec.host, port: rec.port },
      ];
    });
  }
}
