// The atServer's Prometheus endpoint: loaded (a lazy require in server.ts) only when --metrics-port is
// set. Counters are fed by the engine's hooks; gauges are read at scrape time from the
// connection pool, the notification store, the storage directory and the cgroup.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  Counter,
  Gauge,
  Histogram,
  renderAll,
  SECONDS_BUCKETS,
  type Metric,
} from "@atplatform/protocol/src/metrics";
import { MetricsHttpServer } from "@atplatform/protocol/src/metrics-http";
import { ProcessMetrics } from "@atplatform/protocol/src/process-metrics";
import type { Connection } from "../engine/connection";
import type { Logger } from "../logger";
import type { MetricsHooks } from "./hooks";

export interface ExporterSources {
  atSign: string;
  version: string;
  storage: string;
  connections(): Iterable<Connection>;
  /** Undelivered sent notifications. */
  queueDepth(): number;
}

const KINDS = ["owner", "apkam", "peer", "unauthenticated"] as const;

function kindOf(c: Connection): (typeof KINDS)[number] {
  const s = c.session;
  if (s.auth === "apkam") return "apkam";
  if (s.isOwner) return "owner";
  if (s.polAtSign !== undefined) return "peer";
  return "unauthenticated";
}

/** Bytes of the files in the storage directory (the SQLite database, its WAL), one level deep. */
export function storageBytes(dir: string): number {
  let total = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isFile()) total += statSync(p).size;
      else if (e.isDirectory())
        for (const f of readdirSync(p, { withFileTypes: true }))
          if (f.isFile()) total += statSync(join(p, f.name)).size;
    }
  } catch {
    // Removed while read: the next scrape sees it.
  }
  return total;
}

/** The container's memory limit (cgroup v2, then v1), or 0 when there is none. */
export function memoryLimitBytes(): number {
  for (const file of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    try {
      const v = readFileSync(file, "utf8").trim();
      if (v === "max") return 0;
      const n = Number(v);
      // cgroup v1 reports "no limit" as a page-rounded 2^63.
      if (Number.isFinite(n) && n > 0 && n < 2 ** 62) return n;
      return 0;
    } catch {
      // Not this cgroup version.
    }
  }
  return 0;
}

export class AtServerMetrics implements MetricsHooks {
  readonly commands = new Counter(
    "atserver_commands_total",
    "Commands by verb (known verb names only) and result (ok or error code).",
  );
  readonly commandSeconds = new Histogram(
    "atserver_command_duration_seconds",
    "Time to answer a command, by verb.",
    SECONDS_BUCKETS,
    [],
  );
  readonly authFailures = new Counter(
    "atserver_auth_failures_total",
    "Failed cram/pkam authentications, by verb.",
  );
  readonly connectionEvents = new Counter(
    "atserver_connections_total",
    "Inbound connections admitted, and refused by reason (full, ip-limit).",
  );
  readonly commitSeconds = new Histogram(
    "atserver_commit_duration_seconds",
    "Duration of one store transaction (group commit of acknowledged writes).",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  readonly commitWrites = new Counter("atserver_commit_writes_total", "Writes committed.");
  readonly deliverySeconds = new Histogram(
    "atserver_notification_delivery_seconds",
    "Time from a sent notification's creation to its delivery to the recipient's server.",
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
  );
  private readonly process = new ProcessMetrics();
  private readonly all: Metric[];
  private readonly limit = memoryLimitBytes();

  constructor(src: ExporterSources) {
    this.authFailures.inc({ verb: "cram" }, 0);
    this.authFailures.inc({ verb: "pkam" }, 0);
    this.connectionEvents.inc({ event: "admitted" }, 0);
    this.all = [
      new Gauge("atserver_info", "This atServer (value 1).", () => [
        [{ atsign: src.atSign, version: src.version }, 1],
      ]),
      this.commands,
      this.commandSeconds,
      this.authFailures,
      this.connectionEvents,
      new Gauge("atserver_open_connections", "Open inbound connections, by kind.", () => {
        const n = { owner: 0, apkam: 0, peer: 0, unauthenticated: 0 };
        for (const c of src.connections()) n[kindOf(c)]++;
        return KINDS.map((kind) => [{ kind }, n[kind]] as const);
      }),
      new Gauge(
        "atserver_notification_queue_depth",
        "Sent notifications not yet delivered.",
        src.queueDepth,
      ),
      this.deliverySeconds,
      this.commitSeconds,
      this.commitWrites,
      new Gauge("atserver_storage_bytes", "Bytes of the storage directory's files.", () =>
        storageBytes(src.storage),
      ),
      new Gauge(
        "atserver_memory_limit_bytes",
        "The container's memory limit (cgroup), 0 when none.",
        () => this.limit,
      ),
      new Gauge(
        "atserver_memory_limit_ratio",
        "Resident memory over the container's memory limit (absent without a limit).",
        () => (this.limit > 0 ? [[{}, process.memoryUsage.rss() / this.limit]] : []),
      ),
      ...this.process.metrics,
    ];
  }

  verb(verb: string, result: string, seconds: number): void {
    this.commands.inc({ verb, result });
    this.commandSeconds.observe(seconds, { verb });
  }

  authFailure(verb: string): void {
    this.authFailures.inc({ verb });
  }

  connection(event: string): void {
    this.connectionEvents.inc({ event });
  }

  commit(seconds: number, writes: number): void {
    this.commitSeconds.observe(seconds);
    this.commitWrites.inc({}, writes);
  }

  delivered(ms: number): void {
    this.deliverySeconds.observe(Math.max(0, ms) / 1000);
  }

  render(): string {
    return renderAll(this.all);
  }

  close(): void {
    this.process.stop();
  }
}

/** GET /metrics on its own plain-HTTP listener (loopback by default). */
export class MetricsEndpoint {
  private readonly http: MetricsHttpServer;

  constructor(
    private readonly metrics: AtServerMetrics,
    private readonly log: Logger,
  ) {
    this.http = new MetricsHttpServer(() => metrics.render());
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await this.http.listen(port, host);
    this.log.info({ host, port: bound }, "metrics endpoint listening");
    return bound;
  }

  async close(): Promise<void> {
    await this.http.close();
    this.metrics.close();
  }
}
