// The directory's metrics, on the shared exposition (services/protocol/src/metrics.ts).
import {
  Counter,
  Gauge,
  Histogram,
  renderAll,
  type Metric,
} from "@atplatform/protocol/src/metrics";
import { ProcessMetrics } from "@atplatform/protocol/src/process-metrics";

export { Counter, Gauge, Histogram };

/** The reads node's state as operators see it (from the Redis store's trust verdict). */
export type StoreState = "healthy" | "degraded" | "syncing" | "unavailable";
const STORE_STATES: StoreState[] = ["healthy", "degraded", "syncing", "unavailable"];

/** The directory's metrics; one instance per DirectoryServer. */
export class DirectoryMetrics {
  readonly lookups = new Counter(
    "atdirectory_lookups_total",
    "Lookups answered, by result (found, unknown, invalid, unavailable, throttled).",
  );
  readonly latency = new Histogram(
    "atdirectory_lookup_duration_seconds",
    "Time from reading a lookup line to writing its answer (throttle delays excluded).",
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  readonly storeErrors = new Counter(
    "atdirectory_store_errors_total",
    "Store, cache and upstream failures, by source.",
  );
  readonly connections = new Counter(
    "atdirectory_connections_total",
    "Connections accepted (after TLS), and closed by the server, by reason.",
  );
  readonly cache = new Counter("atdirectory_cache_total", "Cache results (hit, miss, stale).");
  readonly reloads = new Counter("atdirectory_reloads_total", "File reloads, by kind and result.");
  readonly staleAge = new Histogram(
    "atdirectory_cache_stale_age_seconds",
    "How far past its TTL a cached answer was when served stale (revalidate, stale-if-error).",
    [0.1, 1, 5, 15, 30, 60, 120, 300, 900],
    [],
  );
  /** notAfter (epoch seconds) of the certificate being served; set by the TLS listener. */
  certificateNotAfter?: number;
  /** The Redis reads node's state; unset = no Redis store (file or memory records). */
  storeState?: () => StoreState;
  private readonly extra: Metric[] = [];
  private readonly process = new ProcessMetrics();
  /** Hot-path incrementers. */
  readonly found = this.lookups.bind({ result: "found" });
  readonly unknown = this.lookups.bind({ result: "unknown" });
  readonly accepted = this.connections.bind({ event: "accepted" });

  constructor(openConnections: () => number) {
    // Export the common series at zero so dashboards and rate() see them from the start.
    for (const result of ["invalid", "unavailable", "throttled", "too_long"]) {
      this.lookups.inc({ result }, 0);
    }
    this.extra.push(
      new Gauge("atdirectory_open_connections", "Open client connections.", openConnections),
      new Gauge(
        "atdirectory_store_state",
        "1 for the Redis reads node's current state (healthy, degraded, syncing, unavailable).",
        () => {
          const now = this.storeState?.();
          return now ? STORE_STATES.map((s) => [{ state: s }, s === now ? 1 : 0] as const) : [];
        },
      ),
      new Gauge(
        "atplatform_certificate_expiry_timestamp_seconds",
        "notAfter of the certificate this directory serves (the earliest, with several pairs).",
        () => {
          const t = this.certificateNotAfter;
          return t === undefined ? [] : [[{ cert: "root", target: "self" }, t] as const];
        },
      ),
      new Gauge(
        "atdirectory_cache_hit_ratio",
        "Fresh hits over lookups reaching the cache since start, per cache.",
        () =>
          ["redis", "upstream"].flatMap((cache) => {
            const hit = this.cache.get({ cache, result: "hit" });
            const all =
              hit +
              this.cache.get({ cache, result: "miss" }) +
              this.cache.get({ cache, result: "revalidate" });
            return all > 0 ? [[{ cache }, hit / all] as const] : [];
          }),
      ),
    );
  }

  render(): string {
    return renderAll([
      this.lookups,
      this.latency,
      this.storeErrors,
      this.connections,
      this.cache,
      this.staleAge,
      this.reloads,
      ...this.extra,
      ...this.process.metrics,
    ]);
  }

  /** Stops the runtime samplers (event-loop delay, GC observer). */
  close(): void {
    this.process.stop();
  }
}
