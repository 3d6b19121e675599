// The per-node metrics agent: every interval it lists the atServer containers on its node
// through the Engine API, scrapes each one's metrics endpoint (bounded in time and bytes)
// and keeps the merged, atsign-labelled document; GET /metrics serves the latest one plus
// the agent's own families and, on managers, the swarm health.
import { Counter, Gauge, renderAll, type Metric } from "@atplatform/protocol/src/metrics";
import { MetricsHttpServer } from "@atplatform/protocol/src/metrics-http";
import { AgentFetchError, boundedGet } from "./bounded-get";
import type { AgentConfig } from "./config";
import { EngineReader } from "./engine";
import { addTarget, ExpositionError, renderFamilies, type Families } from "./exposition";
import { swarmHealth, swarmHealthMetrics, type SwarmHealth } from "./swarm-health";
import { targetsOf, type Target } from "./targets";

export type AgentLog = (msg: string, fields?: Record<string, unknown>) => void;

const REASONS = ["timeout", "too_large", "http_status", "connect", "parse", "discovery", "swarm"];

export class MetricsAgent {
  readonly scrapeErrors = new Counter(
    "atplatform_agent_scrape_errors_total",
    "Failed scrapes by reason (discovery and swarm: Engine API reads).",
  );
  private targets = 0;
  private merged = "";
  private health?: SwarmHealth;
  private readonly own: Metric[];
  private readonly engine: EngineReader;
  private readonly http: MetricsHttpServer;
  private timers: NodeJS.Timeout[] = [];
  private round?: Promise<void>;
  private lastSwarm = 0;
  port?: number;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly log: AgentLog = () => {},
  ) {
    for (const reason of REASONS) this.scrapeErrors.inc({ reason }, 0);
    this.engine = new EngineReader(cfg);
    this.own = [
      this.scrapeErrors,
      new Gauge("atplatform_agent_atservers", "atServers found on this node.", () => this.targets),
      ...swarmHealthMetrics(() => this.health),
    ];
    this.http = new MetricsHttpServer(() => this.render());
  }

  render(): string {
    return this.merged + renderAll(this.own);
  }

  async start(): Promise<number> {
    this.port = await this.http.listen(this.cfg.port, this.cfg.host);
    await this.scrapeOnce();
    const tick = () => {
      this.round ??= this.scrapeOnce().finally(() => (this.round = undefined));
    };
    this.timers.push(setInterval(tick, this.cfg.intervalMs));
    return this.port;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.round;
    await this.http.close();
  }

  /** One round: discovery, scrapes, and (on managers, when due) the swarm health. */
  async scrapeOnce(): Promise<void> {
    let targets: Target[];
    let manager: boolean;
    try {
      const info = await this.engine.info();
      manager = info.Swarm?.ControlAvailable === true;
      targets = targetsOf(await this.engine.atServerContainers(), this.cfg.maxTargets);
    } catch (err) {
      this.scrapeErrors.inc({ reason: "discovery" });
      this.log("discovery failed", { err: (err as Error).message });
      return;
    }
    const families: Families = new Map();
    const texts = await this.scrapeAll(targets);
    for (let i = 0; i < targets.length; i++) {
      const text = texts[i];
      if (text === undefined) continue;
      // Parsed into a scratch map first: a malformed document adds nothing.
      const mine: Families = new Map();
      try {
        addTarget(mine, text, targets[i]!.atsign, this.cfg.maxTargetSamples);
      } catch (err) {
        this.fail(targets[i]!, err instanceof ExpositionError ? "parse" : "connect", err);
        continue;
      }
      for (const [name, f] of mine) {
        const into = families.get(name);
        if (!into) families.set(name, f);
        else {
          into.help ??= f.help;
          into.type ??= f.type;
          into.samples.push(...f.samples);
        }
      }
    }
    this.targets = targets.length;
    this.merged = renderFamilies(families);
    if (manager && Date.now() - this.lastSwarm >= this.cfg.swarmIntervalMs) await this.readSwarm();
    if (!manager) this.health = undefined;
  }

  private async scrapeAll(targets: Target[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = new Array(targets.length);
    let next = 0;
    // Texts are held until the merge: the round as a whole has a byte budget too.
    let total = 0;
    const worker = async () => {
      while (next < targets.length) {
        const i = next++;
        const t = targets[i]!;
        try {
          const text = await boundedGet({
            url: t.url,
            timeoutMs: this.cfg.timeoutMs,
            maxBytes: this.cfg.maxTargetBytes,
          });
          total += text.length;
          if (total > this.cfg.maxTotalBytes)
            this.fail(t, "too_large", new Error("the round's byte budget is spent"));
          else out[i] = text;
        } catch (err) {
          this.fail(t, err instanceof AgentFetchError ? err.reason : "connect", err);
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.cfg.concurrency, targets.length) }, worker),
    );
    return out;
  }

  private fail(t: Target, reason: string, err: unknown): void {
    this.scrapeErrors.inc({ reason });
    this.log("scrape failed", { atsign: t.atsign, reason, err: (err as Error).message });
  }

  private async readSwarm(): Promise<void> {
    try {
      const [nodes, services, ended] = await Promise.all([
        this.engine.nodes(),
        this.engine.atServerServices(),
        this.engine.endedTasks(),
      ]);
      this.health = swarmHealth(nodes, services, ended, Date.now());
      this.lastSwarm = Date.now();
    } catch (err) {
      this.scrapeErrors.inc({ reason: "swarm" });
      this.log("swarm health read failed", { err: (err as Error).message });
    }
  }
}
