// The standard process and Node.js runtime metrics, under prom-client's default names so
// that existing dashboards work: CPU, memory, file descriptors, event-loop lag, heap spaces,
// GC pauses, handles. Read at scrape time from process, v8, perf_hooks and /proc/self.
import { readdirSync, readFileSync } from "node:fs";
import {
  monitorEventLoopDelay,
  PerformanceObserver,
  type IntervalHistogram,
} from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { Gauge, Histogram, type Labels, type Metric } from "./metrics";

class CounterValue implements Metric {
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      `${this.name} ${this.read()}`,
    ].join("\n");
  }
}

/** `VmSize` etc. of /proc/self/status in bytes (0 where /proc is absent). */
function procStatus(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync("/proc/self/status", "utf8"),
    );
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length - 1; // minus the one readdir used
  } catch {
    return 0;
  }
}

function maxFds(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const GC_KINDS: Record<number, string> = { 1: "major", 2: "minor", 4: "incremental", 8: "weakcb" };

/**
 * The process/runtime families. `stop()` ends the event-loop sampler and the GC observer (both
 * started here, so nothing runs unless a metrics endpoint exists).
 */
export class ProcessMetrics {
  readonly metrics: Metric[];
  private readonly loop: IntervalHistogram;
  private readonly gcObserver?: PerformanceObserver;

  constructor() {
    const startTime = Math.round((Date.now() - process.uptime() * 1000) / 1000);
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    const gc = new Histogram(
      "nodejs_gc_duration_seconds",
      "Garbage collection duration by kind.",
      [0.001, 0.01, 0.1, 1, 2, 5],
      [],
    );
    try {
      const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
          gc.observe(e.duration / 1000, { kind: GC_KINDS[kind] ?? "other" });
        }
      });
      obs.observe({ entryTypes: ["gc"] });
      this.gcObserver = obs;
    } catch {
      // No GC entries on this runtime: the family stays empty.
    }
    const loop = this.loop;
    const lag = (name: string, help: string, read: () => number) =>
      new Gauge(`nodejs_eventloop_lag_${name}_seconds`, help, () => {
        const v = read();
        return Number.isFinite(v) ? v / 1e9 : 0;
      });
    const [major, minor, patch] = process.versions.node.split(".");
    this.metrics = [
      new CounterValue(
        "process_cpu_user_seconds_total",
        "Total user CPU time spent in seconds.",
        () => process.cpuUsage().user / 1e6,
      ),
      new CounterValue(
        "process_cpu_system_seconds_total",
        "Total system CPU time spent in seconds.",
        () => process.cpuUsage().system / 1e6,
      ),
      new CounterValue("process_cpu_seconds_total", "Total CPU time spent in seconds.", () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      }),
      new Gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        () => startTime,
      ),
      new Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () =>
        process.memoryUsage.rss(),
      ),
      new Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", () =>
        procStatus("VmSize"),
      ),
      new Gauge("process_heap_bytes", "Process heap size in bytes.", () => procStatus("VmData")),
      new Gauge("process_open_fds", "Number of open file descriptors.", openFds),
      new Gauge("process_max_fds", "Maximum number of open file descriptors.", maxFds),
      lag("min", "The minimum recorded event loop delay.", () => loop.min),
      lag("max", "The maximum recorded event loop delay.", () => loop.max),
      lag("mean", "The mean of the recorded event loop delays.", () => loop.mean),
      lag("p50", "The 50th percentile of the recorded event loop delays.", () =>
        loop.percentile(50),
      ),
      lag("p99", "The 99th percentile of the recorded event loop delays.", () =>
        loop.percentile(99),
      ),
      new Gauge(
        "nodejs_active_handles_total",
        "Number of active libuv handles.",
        () => process.getActiveResourcesInfo().filter((r) => r !== "FSReqCallback").length,
      ),
      new Gauge(
        "nodejs_heap_size_total_bytes",
        "Process heap size from Node.js in bytes.",
        () => process.memoryUsage().heapTotal,
      ),
      new Gauge(
        "nodejs_heap_size_used_bytes",
        "Process heap size used from Node.js in bytes.",
        () => process.memoryUsage().heapUsed,
      ),
      new Gauge(
        "nodejs_external_memory_bytes",
        "Node.js external memory size in bytes.",
        () => process.memoryUsage().external,
      ),
      new Gauge("nodejs_heap_space_size_used_bytes", "Process heap space size used in bytes.", () =>
        getHeapSpaceStatistics().map((s) => [{ space: s.space_name }, s.space_used_size] as const),
      ),
      new Gauge(
        "nodejs_heap_space_size_total_bytes",
        "Process heap space size total in bytes.",
        () => getHeapSpaceStatistics().map((s) => [{ space: s.space_name }, s.space_size] as const),
      ),
      new Gauge("nodejs_version_info", "Node.js version info.", () => [
        [{ version: process.version, major: major!, minor: minor!, patch: patch! } as Labels, 1],
      ]),
      gc,
    ];
  }

  stop(): void {
    this.loop.disable();
    this.gcObserver?.disconnect();
  }
}
