// The registrar's Prometheus metrics: registrations and activations by result, atSigns per
// state, time to active, orchestrator calls (latency, errors) and email sends; the platform
// prober's findings (directory probes, certificate expiry) and the oldest pending atSigns.
// The service, orchestrator and mailer are wrapped (no counter calls inside them); labels
// come from fixed sets: method names, HTTP statuses of the registrar's errors, state names,
// and for certificates the configured root host, public URL host and swarm names.
import {
  Counter,
  Gauge,
  Histogram,
  labelText,
  renderAll,
  SECONDS_BUCKETS,
  type Labels,
  type Metric,
} from "@atplatform/protocol/src/metrics";
import { ProcessMetrics } from "@atplatform/protocol/src/process-metrics";
import { RegistrarError } from "./errors";
import type { Mailer } from "./mail/mailer";
import type { Orchestrator } from "./orchestrator/orchestrator";
import type { CertKind } from "./probe/cert-expiry";
import { DIRECTORY_PROBE_RESULTS, type DirectoryProbeResult } from "./probe/directory-probe";
import type { ProbeSink } from "./probe/platform-prober";
import type { Provisioner } from "./provisioning/provisioner";
import type { RegistrarService } from "./service";
import type { RegistrarStore } from "./store/registrar-store";
import { PENDING_STATES, type AtSignState } from "./store/types";

const ALL_STATES: AtSignState[] = [
  "reserved",
  ...PENDING_STATES,
  "active",
  "suspended",
  "failed",
  "deleted",
];

/** Service methods counted, as [counter, flow]. */
const COUNTED: Record<string, ["registration" | "activation", string]> = {
  reserveWithKey: ["registration", "api_key"],
  startRegistration: ["registration", "email"],
  activateWithKey: ["activation", "api_key"],
  verifyRegistration: ["activation", "email"],
};

/** The result label of a call that threw: the registrar error's HTTP status, else "error". */
function failure(err: unknown): string {
  return err instanceof RegistrarError ? String(err.status) : "error";
}

/** Times a promise-returning call and records its outcome (also for synchronous throws). */
function observed<T>(call: () => T, done: (result: string, seconds: number) => void): T {
  const started = performance.now();
  const end = (result: string) => done(result, (performance.now() - started) / 1000);
  let value: T;
  try {
    value = call();
  } catch (err) {
    end(failure(err));
    throw err;
  }
  if (value instanceof Promise) {
    return value.then(
      (v: unknown) => {
        end(resultOf(v));
        return v;
      },
      (err: unknown) => {
        end(failure(err));
        throw err;
      },
    ) as T;
  }
  end(resultOf(value));
  return value;
}

/** `verifyRegistration` answers retry/confirm without throwing: those are results too. */
function resultOf(v: unknown): string {
  const kind = (v as { kind?: unknown } | null)?.kind;
  return kind === "retry" || kind === "confirm" ? kind : "ok";
}

export class RegistrarMetrics implements ProbeSink {
  readonly registrations = new Counter(
    "registrar_registrations_total",
    "Registrations (reservations) by flow (api_key, email) and result (ok or HTTP status).",
  );
  readonly activations = new Counter(
    "registrar_activations_total",
    "Activations by flow and result (ok, retry, confirm, or HTTP status).",
  );
  readonly timeToActive = new Histogram(
    "registrar_time_to_active_seconds",
    "From the start of provisioning (state requested) to active.",
    [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  );
  readonly orchestratorCalls = new Histogram(
    "registrar_orchestrator_call_duration_seconds",
    "Orchestrator calls by operation.",
    SECONDS_BUCKETS,
    [],
  );
  readonly orchestratorErrors = new Counter(
    "registrar_orchestrator_errors_total",
    "Failed orchestrator calls by operation.",
  );
  readonly emails = new Counter("registrar_emails_total", "Email sends by result (ok, error).");
  readonly directoryProbes = new Counter(
    "registrar_directory_probe_total",
    "Lookups of active atSigns through the public root, by result " +
      "(ok, wrong_null, wrong_address, error).",
  );
  readonly certificateErrors = new Counter(
    "registrar_certificate_probe_errors_total",
    "Certificates the prober could not read (no handshake within the timeout, refused), by cert and target.",
  );
  /** notAfter (epoch seconds) by label text; the last value stays when a read fails. */
  private readonly notAfter = new Map<string, readonly [Labels, number]>();
  private readonly process = new ProcessMetrics();
  private readonly all: Metric[];
  /** Provisioning start times of atSigns on their way to active (this process only). */
  private readonly started = new Map<string, number>();

  constructor(private readonly store: RegistrarStore) {
    for (const result of ["ok", "error"]) this.emails.inc({ result }, 0);
    for (const result of DIRECTORY_PROBE_RESULTS) this.directoryProbes.inc({ result }, 0);
    this.all = [
      this.registrations,
      this.activations,
      new Gauge("registrar_atsigns", "atSigns per state.", () => {
        const counts = store.countByState();
        return ALL_STATES.map((state) => [{ state }, counts[state] ?? 0] as const);
      }),
      this.timeToActive,
      this.orchestratorCalls,
      this.orchestratorErrors,
      this.emails,
      this.directoryProbes,
      new Gauge(
        "atplatform_certificate_expiry_timestamp_seconds",
        "notAfter of the certificates the registrar meets as a client, by cert and target.",
        () => [...this.notAfter.values()],
      ),
      this.certificateErrors,
      new Gauge(
        "registrar_provisioning_oldest_seconds",
        "Time the longest-waiting atSign has been in each pending state (0 when none).",
        () => {
          const since = store.oldestEntryByState(PENDING_STATES);
          const now = Date.now();
          return PENDING_STATES.map((state) => {
            const t = since[state];
            return [{ state }, t === undefined ? 0 : Math.max(0, (now - t) / 1000)] as const;
          });
        },
      ),
      ...this.process.metrics,
    ];
  }

  /** The service with its registration and activation methods counted. */
  service(service: RegistrarService): RegistrarService {
    return new Proxy(service, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        const counted = typeof prop === "string" ? COUNTED[prop] : undefined;
        if (!counted || typeof value !== "function") return value;
        const [kind, flow] = counted;
        const counter = kind === "registration" ? this.registrations : this.activations;
        return (...args: unknown[]) =>
          observed(
            () => (value as (...a: unknown[]) => unknown).apply(target, args),
            (result) => counter.inc({ flow, result }),
          );
      },
    });
  }

  orchestrator(orchestrator: Orchestrator): Orchestrator {
    return new Proxy(orchestrator, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function" || typeof prop !== "string") return value;
        return (...args: unknown[]) =>
          observed(
            () => (value as (...a: unknown[]) => unknown).apply(target, args),
            (result, seconds) => {
              this.orchestratorCalls.observe(seconds, { op: prop });
              if (result !== "ok") this.orchestratorErrors.inc({ op: prop });
            },
          );
      },
    });
  }

  mailer(mailer: Mailer): Mailer {
    return {
      send: (mail) =>
        observed(
          () => mailer.send(mail),
          (result) => this.emails.inc({ result: result === "ok" ? "ok" : "error" }),
        ),
      close: () => mailer.close?.(),
    };
  }

  /** Follows the provisioner's state changes for the time to active. */
  watch(provisioner: Provisioner): void {
    provisioner.events.on("change", (atsign: string) => {
      const rec = this.store.get(atsign);
      if (!rec) return;
      if (rec.state === "active") {
        const t = this.started.get(atsign);
        if (t !== undefined) this.timeToActive.observe((Date.now() - t) / 1000);
        this.started.delete(atsign);
      } else if (rec.state === "failed" || rec.state === "deleted") {
        this.started.delete(atsign);
      }
    });
    provisioner.events.on("drive", (atsign: string) => {
      if (this.started.has(atsign) || this.started.size >= 100_000) return;
      if (this.store.get(atsign)?.state === "requested") this.started.set(atsign, Date.now());
    });
  }

  directoryProbe(result: DirectoryProbeResult): void {
    this.directoryProbes.inc({ result });
  }

  certificate(cert: CertKind, target: string, notAfterSeconds: number): void {
    const labels = { cert, target };
    this.notAfter.set(labelText(labels), [labels, notAfterSeconds]);
  }

  certificateError(cert: CertKind, target: string): void {
    this.certificateErrors.inc({ cert, target });
  }

  render(): string {
    return renderAll(this.all);
  }

  close(): void {
    this.process.stop();
  }
}
