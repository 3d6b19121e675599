// A small Prometheus text exposition (format 0.0.4) shared by the three services: counters,
// gauges read at scrape time, histograms with fixed buckets. No dependency (prom-client would
// be one more package in every atServer image). Label values must come from bounded sets
// (verb names, results): callers never label with atSigns, keys or addresses.

export type Labels = Record<string, string>;

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

export interface Metric {
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
    const lines = header(this.name, this.help, "counter");
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join("\n");
  }
}

/** A value read at scrape time: one number, or one per label set. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | ReadonlyArray<readonly [Labels, number]>,
  ) {}
  render(): string {
    const lines = header(this.name, this.help, "gauge");
    const v = this.read();
    if (typeof v === "number") lines.push(`${this.name} ${v}`);
    else for (const [labels, n] of v) lines.push(`${this.name}${labelText(labels)} ${n}`);
    return lines.join("\n");
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
    /** Label sets exported at zero before any observation. */
    initial: Labels[] = [{}],
  ) {
    for (const l of initial) this.at(labelText(l));
  }
  private at(key: string): { counts: number[]; sum: number; count: number } {
    let s = this.series.get(key);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }
  observe(value: number, labels: Labels = {}): void {
    const s = this.at(labelText(labels));
    s.sum += value;
    s.count++;
    // Per-bucket counts here; cumulative only when rendered.
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        s.counts[i]!++;
        return;
      }
    }
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0;
  }
  render(): string {
    const lines = header(this.name, this.help, "histogram");
    for (const [key, s] of this.series) {
      const inner = key.slice(1, -1);
      const le = (b: string) => `{${inner ? `${inner},` : ""}le="${b}"}`;
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i]!;
        lines.push(`${this.name}_bucket${le(String(b))} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${le("+Inf")} ${s.count}`);
      lines.push(`${this.name}_sum${key} ${s.sum}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** Latency buckets, seconds, for calls that take milliseconds to seconds. */
export const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Renders metric families in order, one exposition document. */
export function renderAll(metrics: Iterable<Metric>): string {
  return (
    [...metrics]
      .map((m) => m.render())
      .filter((t) => t !== "")
      .join("\n") + "\n"
  );
}
