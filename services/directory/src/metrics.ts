// A tiny Prometheus text exposition (format 0.0.4): the directory needs four metric
// families, which does not justify a dependency.

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  /** A pre-bound incrementer for a hot path (no label formatting per call). */
  bind(labels: Labels): () => void {
    const key = labelText(labels);
    if (!this.values.has(key)) this.values.set(key, 0);
    return () => this.values.set(key, this.values.get(key)! + 1);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.read()}`,
    ].join("\n");
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    // Per-bucket counts here; cumulative only when rendered.
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += this.counts[i]!;
      lines.push(`${this.name}_bucket{le="${b}"} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

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
  private readonly extra: Metric[] = [];
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
    );
  }

  render(): string {
    const all: Metric[] = [
      this.lookups,
      this.latency,
      this.storeErrors,
      this.connections,
      this.cache,
      this.reloads,
      ...this.extra,
    ];
    return all.map((m) => m.render()).join("\n") + "\n";
  }
}
