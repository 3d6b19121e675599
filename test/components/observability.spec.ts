// Issue 15 parts 2 and 3, stack side: what the stack collects (PodMonitoring, the swarm VMs'
// Ops Agent receiver), where alerts go, and that each alert's condition means something:
// the right metric from a job the stack actually collects, the threshold on the side that
// is trouble, a for-duration, a channel that exists.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { CERTIFICATES } from "../../components/alert-rules";
import { ConfigError, parseConfig, type RawConfig } from "../../components/config";
import { OPS_AGENT_CONFIG_KEY } from "../../components/ops-agent-config";
import { createPlatform } from "../../components/platform";
import { dashboardProblems } from "./gcp-monitoring-rules";
import { resourceRules } from "./gcp-rules";
import { secretAt, settle, useMocks, type Recorded } from "./mocks";
import { buildStack, exclusive, ROOT, stackConfig, stackSecrets } from "./stack";

const POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel";
const PODMON = "kubernetes:monitoring.googleapis.com/v1:PodMonitoring";
const DASHBOARD = "gcp:monitoring/dashboard:Dashboard";
const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";

/**
 * The metrics contract shared by the services, the swarm agent and the prober (written
 * down here independently of the code, so a misspelt metric in a query fails).
 */
const CONTRACT = [
  "up",
  "atdirectory_lookups_total",
  "atdirectory_lookup_duration_seconds_bucket",
  "atdirectory_open_connections",
  "atdirectory_store_state",
  "atdirectory_cache_hit_ratio",
  "registrar_registrations_total",
  "registrar_activations_total",
  "registrar_atsigns",
  "registrar_orchestrator_call_duration_seconds_bucket",
  "registrar_orchestrator_errors_total",
  "registrar_emails_total",
  "registrar_time_to_active_seconds_bucket",
  "registrar_directory_probe_total",
  "registrar_provisioning_oldest_seconds",
  "atplatform_certificate_expiry_timestamp_seconds",
  "atplatform_agent_scrape_errors_total",
  "atplatform_agent_atservers",
  "atplatform_swarm_nodes",
  "atplatform_swarm_managers_reachable",
  "atplatform_swarm_managers_total",
  "atplatform_swarm_services_crashlooping",
  "atserver_open_connections",
  "atserver_memory_limit_ratio",
];
const PROMQL_WORDS = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "by",
  "rate",
  "increase",
  "delta",
  "or",
  "and",
  "vector",
  "time",
  "absent_over_time",
  "histogram_quantile",
  "topk",
  "le",
]);

/** Metric names a PromQL expression reads: identifiers outside selectors, grouping lists and function calls. */
function metricsIn(query: string): string[] {
  const bare = query
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\(|[a-zA-Z0-9_:])/g))
    if (!PROMQL_WORDS.has(m[0])) names.add(m[0]);
  return [...names];
}

/** `job` values a query selects. */
function jobsIn(query: string): string[] {
  return [...query.matchAll(/job="([^"]+)"/g)].map((m) => m[1]!);
}

/** The expression's top-level `or` branches (outside parentheses). */
function branches(query: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && /\sor\s/.test(query.slice(i - 1, i + 3))) {
      out.push(query.slice(from, i));
      from = i + 2;
    }
  }
  out.push(query.slice(from));
  return out.map((b) => b.trim());
}

/** The top-level comparison of each `or` branch: its sides and operator (`value` if numeric). */
function comparisons(query: string): { op: string; value: number; lhs: string; rhs: string }[] {
  return branches(query)
    .filter((b) => !b.startsWith("absent_over_time"))
    .map((b) => {
      let depth = 0;
      let at = -1;
      let op = "";
      for (let i = 0; i < b.length; i++) {
        const ch = b[i]!;
        if (ch === "(" || ch === "{" || ch === "[") depth++;
        else if (ch === ")" || ch === "}" || ch === "]") depth--;
        else if (depth === 0 && "<>=!".includes(ch)) {
          const two = b.slice(i, i + 2);
          op = ["<=", ">=", "==", "!="].includes(two) ? two : ch;
          at = i;
          i += op.length - 1;
        }
      }
      if (at < 0) throw new Error(`no top-level comparison in "${b}"`);
      const rhs = b.slice(at + op.length).trim();
      return { lhs: b.slice(0, at).trim(), op, rhs, value: Number(rhs) };
    });
}

const policies = (rec: { all(t: string): Recorded[] }) => rec.all(POLICY);
const byId = (rec: { all(t: string): Recorded[] }, id: string) => {
  const p = policies(rec).find((r) => r.name === `alerts-${id}`);
  if (!p) throw new Error(`no alert policy ${id}`);
  return p;
};
const promqlOf = (p: Recorded) => p.inputs.conditions[0].conditionPrometheusQueryLanguage;

/**
 * What each alert must watch, and which side of its threshold is trouble: [metric, the
 * comparison of every decisive branch, a bound the threshold must respect].
 */
const MEANING: Record<
  string,
  { metric: string; op: string; ok: (value: number, rhs: string) => boolean }
> = {
  "root-unavailable-answers": { metric: "atdirectory_lookups_total", op: ">", ok: (v) => v < 0.2 },
  "root-wrong-null": { metric: "registrar_directory_probe_total", op: ">", ok: (v) => v < 0.1 },
  "directory-replicas-down": { metric: "up", op: "<", ok: (v) => v >= 2 },
  "directory-store-unhealthy": { metric: "atdirectory_store_state", op: ">", ok: (v) => v === 0 },
  "registrar-down": { metric: "up", op: "<", ok: (v) => v === 1 },
  "registrar-provisioning-failures": {
    metric: "registrar_orchestrator_errors_total",
    op: ">",
    ok: (v) => v <= 10,
  },
  "registrar-provisioning-stuck": {
    metric: "registrar_provisioning_oldest_seconds",
    op: ">",
    ok: (v) => v >= 600 && v <= 7200,
  },
  "swarm-nodes-down": { metric: "atplatform_swarm_nodes", op: ">", ok: (v) => v === 0 },
  // Reachable managers against all managers of the same swarm (a vector on the right).
  "swarm-manager-unreachable": {
    metric: "atplatform_swarm_managers_reachable",
    op: "<",
    ok: (_v, rhs) => /^max by \(swarm\) \(atplatform_swarm_managers_total\{/.test(rhs),
  },
  "swarm-quorum-lost": {
    metric: "atplatform_swarm_managers_reachable",
    op: "<=",
    ok: (_v, rhs) => /^max by \(swarm\) \(atplatform_swarm_managers_total\{/.test(rhs),
  },
  "atserver-crash-loops": {
    metric: "atplatform_swarm_services_crashlooping",
    op: ">",
    ok: (v) => v === 0,
  },
  "swarm-agent-errors": {
    metric: "atplatform_agent_scrape_errors_total",
    op: ">",
    ok: (v) => v > 0 && v < 1,
  },
};

for (const env of ["dev", "prod"]) {
  describe(`components: observability (${env})`, () => {
    it("15: both GKE clusters run Managed Service for Prometheus", async () => {
      const { rec } = await buildStack(env);
      const clusters = rec.all("gcp:container/cluster:Cluster");
      expect(clusters).to.have.length(2);
      for (const c of clusters)
        expect(c.inputs.monitoringConfig?.managedPrometheus?.enabled, c.name).to.equal(true);
    });

    it("15: PodMonitorings scrape the directory and the registrar on the port their pods serve metrics on", async () => {
      const { rec } = await buildStack(env);
      const pms = rec.all(PODMON);
      expect(pms.map((p) => p.inputs.metadata.name).sort()).to.deep.equal([
        "atdirectory",
        "registrar",
      ]);
      const workloads = [
        ...rec.all("kubernetes:apps/v1:Deployment"),
        ...rec.all("kubernetes:apps/v1:StatefulSet"),
      ];
      for (const pm of pms) {
        const ns = pm.inputs.metadata.namespace;
        const sel: Record<string, string> = pm.inputs.spec.selector.matchLabels;
        const w = workloads.find(
          (x) =>
            x.inputs.metadata.namespace === ns &&
            Object.entries(sel).every(([k, v]) => x.inputs.spec.template.metadata.labels[k] === v),
        );
        expect(w, `workload selected by ${pm.name}`).to.exist;
        const container = w!.inputs.spec.template.spec.containers[0];
        const [ep] = pm.inputs.spec.endpoints;
        const port = container.ports.find((p: any) => p.name === ep.port);
        expect(port, `${pm.name} scrapes port "${ep.port}"`).to.exist;
        expect(ep.path).to.equal("/metrics");
        const env: Record<string, string> = Object.fromEntries(
          container.env
            .filter((e: any) => e.value !== undefined)
            .map((e: any) => [e.name, e.value]),
        );
        // The process listens where the PodMonitoring looks, on an address pods can reach.
        if (ns === "atdirectory")
          expect(Number(env.ATDIRECTORY_HTTP_PORT)).to.equal(port.containerPort);
        else {
          expect(Number(env.REGISTRAR_METRICS_PORT)).to.equal(port.containerPort);
          expect(env.REGISTRAR_METRICS_HOST).to.equal("0.0.0.0");
          expect(port.containerPort).to.not.equal(Number(env.REGISTRAR_PORT));
        }
      }
    });

    it("15: each swarm VM's Ops Agent scrapes the node agent on loopback :9464 as job swarm-node-agent, labelled with its swarm and role", async () => {
      const { rec, cfg } = await buildStack(env);
      for (const sw of cfg.swarms)
        for (const role of ["manager", "worker"]) {
          const t = rec.one(TEMPLATE, `${sw.name}-${role}`);
          const conf = JSON.parse(t.inputs.metadata[OPS_AGENT_CONFIG_KEY]);
          const receivers = Object.values<any>(conf.metrics.receivers);
          expect(receivers).to.have.length(1);
          expect(receivers[0].type).to.equal("prometheus");
          const [scrape] = receivers[0].config.scrape_configs;
          expect(scrape.job_name).to.equal("swarm-node-agent");
          expect(scrape.static_configs).to.deep.equal([{ targets: ["127.0.0.1:9464"] }]);
          expect(scrape.relabel_configs).to.deep.include({
            target_label: "swarm",
            replacement: sw.name,
          });
          expect(scrape.relabel_configs).to.deep.include({
            target_label: "role",
            replacement: role,
          });
          // A pipeline uses the receiver; the default host-metrics pipeline is left alone.
          const pipelines = Object.values<any>(conf.metrics.service.pipelines);
          expect(pipelines.flatMap((p) => p.receivers)).to.deep.equal(
            Object.keys(conf.metrics.receivers),
          );
          expect(conf.metrics.service.pipelines).to.not.have.property("default_pipeline");
        }
    });

    it("15: swarm VMs may write metrics and nothing more of Cloud Monitoring", async () => {
      const { rec, cfg } = await buildStack(env);
      for (const sw of cfg.swarms)
        for (const who of ["managers", "workers"]) {
          const member = `serviceAccount:${sw.name}-${who}@test-proj.iam.gserviceaccount.com`;
          const roles = rec
            .all("gcp:projects/iAMMember:IAMMember")
            .filter((m) => m.inputs.member === member)
            .map((m) => m.inputs.role as string);
          expect(roles, member).to.include("roles/monitoring.metricWriter");
          expect(
            roles.filter((r) => r.startsWith("roles/monitoring.")),
            member,
          ).to.deep.equal(["roles/monitoring.metricWriter"]);
        }
    });

    it("15: every alert notifies at least one channel the stack declares, and says what to do", async () => {
      const { rec } = await buildStack(env);
      const channels = new Set(
        rec.all(CHANNEL).map((c) => `projects/atplatform-${env}/notificationChannels/${c.name}`),
      );
      expect(channels.size).to.be.greaterThan(0);
      expect(policies(rec).length).to.be.greaterThan(0);
      for (const p of policies(rec)) {
        expect(p.inputs.notificationChannels, p.name).to.not.be.empty;
        for (const c of p.inputs.notificationChannels) expect(channels, p.name).to.include(c);
        expect(p.inputs.documentation.content, p.name).to.match(/\*\*First:\*\* \S/);
        expect(p.inputs.severity, p.name).to.be.oneOf(["CRITICAL", "WARNING"]);
        expect(p.inputs.conditions, p.name).to.have.length(1);
      }
    });

    it("15: the alerts cover what the issue lists", async () => {
      const { rec, cfg } = await buildStack(env);
      const ids = policies(rec).map((p) => p.name.replace(/^alerts-/, ""));
      const expected = [
        "root-unreachable",
        "root-wrong-null",
        "directory-replicas-down",
        "directory-store-unhealthy",
        "registrar-provisioning-failures",
        "registrar-provisioning-stuck",
        "swarm-nodes-down",
        "swarm-quorum-lost",
        ...CERTIFICATES.map((c) => `certificate-expiry-${c.cert.replace("_", "-")}`),
        "filestore-capacity",
        "atserver-crash-loops",
      ];
      expect(cfg.swarms.length).to.be.greaterThan(0);
      for (const id of expected) expect(ids, id).to.include(id);
      for (const id of ["root-unreachable", "root-wrong-null", "swarm-quorum-lost"])
        expect(byId(rec, id).inputs.severity, id).to.equal("CRITICAL");
    });

    it("15: PromQL alerts read contract metrics from jobs the stack collects, hold for a while, and fire on the side that is trouble", async () => {
      const { rec } = await buildStack(env);
      const collected = new Set([
        ...rec.all(PODMON).map((p) => p.inputs.metadata.name as string),
        ...rec
          .all(TEMPLATE)
          .flatMap((t) =>
            Object.values<any>(
              JSON.parse(t.inputs.metadata[OPS_AGENT_CONFIG_KEY]).metrics.receivers,
            ),
          )
          .flatMap((r) => r.config.scrape_configs.map((s: any) => s.job_name as string)),
      ]);
      for (const p of policies(rec)) {
        const q = promqlOf(p);
        if (!q) continue;
        const id = p.name.replace(/^alerts-/, "");
        for (const m of metricsIn(q.query)) expect(CONTRACT, `${id}: ${m}`).to.include(m);
        for (const j of jobsIn(q.query)) expect([...collected], `${id}: job ${j}`).to.include(j);
        expect(Number(q.duration.replace(/s$/, "")), `${id} for-duration`).to.be.at.least(60);
        expect(q.disableMetricValidation, id).to.equal(true);
        const meaning = MEANING[id];
        if (id.startsWith("certificate-expiry-")) continue;
        expect(meaning, `MEANING has no entry for ${id}`).to.exist;
        expect(metricsIn(q.query), id).to.include(meaning!.metric);
        const decisive = comparisons(q.query);
        for (const c of decisive) {
          expect(c.op, `${id} comparison`).to.equal(meaning!.op);
          expect(meaning!.ok(c.value, c.rhs), `${id} threshold ${c.rhs}`).to.equal(true);
        }
      }
    });

    it("15: certificate alerts fire when the expiry is closer than the configured days, one per certificate kind", async () => {
      const { rec, cfg } = await buildStack(env);
      for (const { cert } of CERTIFICATES) {
        const q = promqlOf(byId(rec, `certificate-expiry-${cert.replace("_", "-")}`));
        expect(q.query).to.contain(
          `atplatform_certificate_expiry_timestamp_seconds{cert="${cert}"}`,
        );
        const [c] = comparisons(q.query);
        expect(c!.lhs, cert).to.match(/- time\(\)$/);
        expect(c!.op, cert).to.equal("<");
        expect(c!.value, cert).to.equal(cfg.alerting.certificateWarningDays * 86400);
      }
    });

    it("15: the replica-floor and quorum alerts count what is missing, not only what reports", async () => {
      const { rec, cfg } = await buildStack(env);
      const replicas = promqlOf(byId(rec, "directory-replicas-down")).query;
      // With no pod answering `count()` is empty: `or vector(0)` turns that into 0 < floor.
      expect(replicas).to.contain("or vector(0)");
      expect(comparisons(replicas)[0]!.value).to.equal(cfg.directory.minReplicas);
      const quorum = promqlOf(byId(rec, "swarm-quorum-lost")).query;
      expect(quorum).to.match(
        /reachable\{[^}]*\}\) \* 2 <= max by \(swarm\) \(atplatform_swarm_managers_total/,
      );
      for (const sw of cfg.swarms)
        expect(quorum, sw.name).to.contain(
          `absent_over_time(atplatform_swarm_managers_total{job="swarm-node-agent",swarm="${sw.name}"}[10m])`,
        );
    });

    it("15: the root's availability alert reads the TCP uptime check of root.<domain>:64 and fires when more than one region fails", async () => {
      const { rec, cfg } = await buildStack(env);
      const check = rec.one("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig");
      expect(check.inputs.tcpCheck.port).to.equal(64);
      expect(check.inputs.monitoredResource.labels.host).to.equal(`root.${cfg.domain}`);
      const c = byId(rec, "root-unreachable").inputs.conditions[0].conditionThreshold;
      expect(c.filter).to.contain(
        'metric.type="monitoring.googleapis.com/uptime_check/check_passed"',
      );
      expect(c.filter).to.contain(`metric.label.check_id="${check.name}-check"`);
      expect(c.aggregations[0].crossSeriesReducer).to.equal("REDUCE_COUNT_FALSE");
      expect([c.comparison, c.thresholdValue]).to.deep.equal(["COMPARISON_GT", 1]);
      expect(Number(c.duration.replace(/s$/, ""))).to.be.at.least(60);
    });

    it("15: the Filestore alert watches the atServers' share filling up", async () => {
      const { rec } = await buildStack(env);
      const share = rec.one("gcp:filestore/instance:Instance");
      const c = byId(rec, "filestore-capacity").inputs.conditions[0].conditionThreshold;
      expect(c.filter).to.contain(
        'metric.type="file.googleapis.com/nfs/server/used_bytes_percent"',
      );
      expect(c.filter).to.contain(`resource.label.instance_name="${share.inputs.name ?? ""}`);
      expect(c.comparison).to.equal("COMPARISON_GT");
      expect(c.thresholdValue).to.be.within(70, 95);
    });

    it("15: one dashboard per tier, valid, charting every metric its tier's alerts fire on", async () => {
      const { rec } = await buildStack(env);
      const boards = rec.all(DASHBOARD).map((d) => JSON.parse(d.inputs.dashboardJson));
      expect(boards.map((b) => b.displayName)).to.have.length(3);
      for (const d of rec.all(DASHBOARD))
        expect(dashboardProblems(d.inputs.dashboardJson), d.name).to.deep.equal([]);
      const chartsOf = (tier: string) => {
        const b = rec.all(DASHBOARD).find((d) => d.name === `dashboards-${tier}`)!;
        return JSON.parse(b.inputs.dashboardJson).mosaicLayout.tiles.map(
          (t: any) => t.widget.xyChart.dataSets[0].timeSeriesQuery,
        );
      };
      for (const tier of ["directory", "registrar", "swarm"]) {
        const queries = chartsOf(tier);
        const charted = queries.flatMap((q: any) =>
          q.prometheusQuery ? metricsIn(q.prometheusQuery) : [],
        );
        for (const m of charted) expect(CONTRACT, `${tier}: ${m}`).to.include(m);
        for (const p of policies(rec).filter((x) => x.inputs.userLabels.tier === tier)) {
          const q = promqlOf(p);
          if (q)
            for (const m of metricsIn(q.query)) expect(charted, `${p.name}: ${m}`).to.include(m);
        }
      }
    });
  });
}

describe("components: observability (config and docs)", () => {
  const PD_KEY = "pd-integration-key-0123456789abcdef";
  const build = (raw: RawConfig, extraSecrets: Record<string, pulumi.Output<string>> = {}) =>
    exclusive(async () => {
      const rec = await useMocks();
      createPlatform(parseConfig(raw, { ...stackSecrets(), ...extraSecrets }));
      await settle();
      return rec;
    });
  const configError = (raw: RawConfig): string => {
    try {
      parseConfig(raw, stackSecrets());
    } catch (e) {
      if (e instanceof ConfigError) return e.key;
      throw e;
    }
    throw new Error("config was accepted");
  };

  it("15: a PagerDuty key becomes a channel whose key is secret and only in sensitiveLabels; every alert pages it", async () => {
    const rec = await build(stackConfig("dev"), {
      "atplatform:alertPagerDutyKey": pulumi.secret(PD_KEY),
    });
    const pd = rec.all(CHANNEL).find((c) => c.inputs.type === "pagerduty")!;
    expect(pd).to.exist;
    expect(pd.inputs.sensitiveLabels.serviceKey).to.equal(PD_KEY);
    expect(secretAt(pd.rawInputs, ["sensitiveLabels", "serviceKey"])).to.equal(true);
    expect(JSON.stringify(pd.rawInputs.labels ?? {})).to.not.contain(PD_KEY);
    expect(rec.apiViolations).to.deep.equal([]);
    for (const p of rec.all(POLICY))
      expect(p.inputs.notificationChannels, p.name).to.include(
        `projects/test-proj/notificationChannels/${pd.name}`,
      );
  });

  it("15: alerts need a channel; addresses and the warning lead are checked", () => {
    const dev = stackConfig("dev");
    expect(configError({ ...dev, "atplatform:alerting": undefined })).to.equal(
      "atplatform:alerting.emails",
    );
    expect(
      configError({ ...dev, "atplatform:alerting": '{"emails":["not-an-address"]}' }),
    ).to.equal("atplatform:alerting.emails[0]");
    expect(
      configError({ ...dev, "atplatform:alerting": '{"emails":["a@b.example","a@b.example"]}' }),
    ).to.equal("atplatform:alerting.emails");
    expect(
      configError({
        ...dev,
        "atplatform:alerting": '{"emails":["a@b.example"],"certificateWarningDays":2}',
      }),
    ).to.equal("atplatform:alerting.certificateWarningDays");
    expect(configError({ ...dev, "atplatform:alerting": '{"email":["a@b.example"]}' })).to.equal(
      "atplatform:alerting.email",
    );
    // The node agent's host port is never inside an atServer range (it would be published).
    const swarm0 = JSON.parse(dev["atplatform:swarms"]!)[0];
    expect(
      configError({
        ...dev,
        "atplatform:swarms": JSON.stringify([{ ...swarm0, ports: "9400-9499" }]),
      }),
    ).to.equal("atplatform:swarms[0].ports");
    // A PagerDuty key alone is enough.
    const cfg = parseConfig(
      { ...dev, "atplatform:alerting": undefined },
      { ...stackSecrets(), "atplatform:alertPagerDutyKey": pulumi.secret(PD_KEY) },
    );
    expect(cfg.alerting.emails).to.deep.equal([]);
  });

  it("15: without swarms (no registrar, no prober) only the directory's and the share's alerts exist", async () => {
    const rec = await build({ ...stackConfig("dev"), "atplatform:swarms": undefined });
    const ids = rec.all(POLICY).map((p) => p.name.replace(/^alerts-/, ""));
    expect(ids).to.include("root-unreachable");
    expect(ids).to.include("certificate-expiry-root");
    expect(ids).to.include("filestore-capacity");
    for (const p of rec.all(POLICY)) {
      const q = promqlOf(p)?.query ?? "";
      expect(q, p.name).to.not.match(/registrar_|atplatform_swarm_|job="registrar"/);
    }
    expect(rec.all(PODMON).map((p) => p.inputs.metadata.name)).to.deep.equal(["atdirectory"]);
  });

  it("15: docs/operations.md has a runbook line for every alert the stack declares", async () => {
    const doc = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Alerts"));
    expect(doc.indexOf("## Alerts")).to.be.greaterThan(0);
    const { rec } = await buildStack("prod");
    for (const p of policies(rec)) {
      const id = p.name.replace(/^alerts-/, "");
      const row = section.split("\n").find((l) => l.startsWith(`| \`${id}\``));
      expect(row, `docs/operations.md row for ${id}`).to.exist;
      const cells = row!.split("|").map((c) => c.trim());
      // | id | severity | meaning | first thing to do |
      expect(
        cells.slice(1, 5).every((c) => c.length > 0),
        id,
      ).to.equal(true);
      expect(cells[2], id).to.equal(p.inputs.severity.toLowerCase());
    }
  });
});

describe("components: Cloud Monitoring API rules (the checks themselves)", () => {
  const violations = (type: string, inputs: Record<string, unknown>) =>
    resourceRules(type, "x", inputs).map((v) => v.message);
  const promqlPolicy = (c: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    conditions: [{ displayName: "c", conditionPrometheusQueryLanguage: { query: "up > 0", ...c } }],
    ...extra,
  });

  it("alert policies: PromQL alone in its policy, 30 s evaluation steps, minute durations, GT/LT only", () => {
    expect(
      violations(POLICY, promqlPolicy({ duration: "300s", evaluationInterval: "60s" })),
    ).to.deep.equal([]);
    expect(violations(POLICY, promqlPolicy({ evaluationInterval: "45s" }))).to.have.length(1);
    expect(violations(POLICY, promqlPolicy({ duration: "5m" }))).to.have.length(1);
    expect(violations(POLICY, promqlPolicy({ alertRule: "root-down" }))).to.have.length(1);
    const two = promqlPolicy({});
    (two.conditions as unknown[]).push({
      displayName: "d",
      conditionPrometheusQueryLanguage: { query: "up" },
    });
    expect(violations(POLICY, { ...two, combiner: "OR" })).to.include(
      "a PromQL condition must be the policy's only one",
    );
    const threshold = (t: Record<string, unknown>) => ({
      conditions: [
        {
          displayName: "t",
          conditionThreshold: {
            filter: 'metric.type="x"',
            comparison: "COMPARISON_GT",
            duration: "120s",
            ...t,
          },
        },
      ],
    });
    expect(violations(POLICY, threshold({}))).to.deep.equal([]);
    expect(violations(POLICY, threshold({ duration: "90s" }))).to.have.length(1);
    expect(violations(POLICY, threshold({ comparison: "COMPARISON_GE" }))).to.have.length(1);
    expect(
      violations(
        POLICY,
        threshold({ aggregations: [{ alignmentPeriod: "30s", crossSeriesReducer: "REDUCE_SUM" }] }),
      ),
    ).to.have.length(2);
    expect(
      violations(POLICY, promqlPolicy({}, { alertStrategy: { autoClose: "600s" } })),
    ).to.have.length(1);
    expect(violations(POLICY, promqlPolicy({}, { userLabels: { Tier: "x" } }))).to.have.length(1);
  });

  it("uptime checks, channels and PodMonitorings", () => {
    const check = (c: Record<string, unknown>) =>
      violations("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig", {
        timeout: "10s",
        period: "60s",
        tcpCheck: { port: 64 },
        monitoredResource: {
          type: "uptime_url",
          labels: { host: "root.x.example", project_id: "p" },
        },
        ...c,
      });
    expect(check({})).to.deep.equal([]);
    expect(check({ period: "120s" })).to.have.length(1);
    expect(check({ timeout: "90s" })).to.have.length(1);
    expect(check({ httpCheck: { path: "/" } })).to.have.length(1);
    expect(
      violations(CHANNEL, {
        type: "pagerduty",
        labels: { service_key: "k" },
        sensitiveLabels: { serviceKey: "k" },
      }),
    ).to.have.length(1);
    expect(violations(CHANNEL, { type: "email", labels: {} })).to.have.length(1);
    const pm = (ep: Record<string, unknown>) =>
      violations(PODMON, {
        spec: { selector: { matchLabels: { a: "b" } }, endpoints: [{ port: "m", ...ep }] },
      });
    expect(pm({ interval: "30s", timeout: "10s" })).to.deep.equal([]);
    expect(pm({ interval: "30s", timeout: "1m" })).to.have.length(1);
    expect(pm({ interval: "30 seconds" })).to.have.length(1);
  });

  it("dashboards: one layout, tiles inside the 48-column mosaic and apart, one query kind per data set", () => {
    const tile = (
      x: number,
      y: number,
      q: Record<string, unknown> = { prometheusQuery: "up" },
    ) => ({
      xPos: x,
      yPos: y,
      width: 24,
      height: 16,
      widget: { title: "t", xyChart: { dataSets: [{ timeSeriesQuery: q }] } },
    });
    const board = (tiles: unknown[]) =>
      JSON.stringify({ displayName: "d", mosaicLayout: { columns: 48, tiles } });
    expect(dashboardProblems(board([tile(0, 0), tile(24, 0)]))).to.deep.equal([]);
    expect(dashboardProblems(board([tile(0, 0), tile(12, 8)]))).to.deep.equal([
      "tiles 0 and 1 overlap",
    ]);
    expect(dashboardProblems(board([tile(36, 0)]))).to.have.length(1);
    expect(
      dashboardProblems(
        board([tile(0, 0, { prometheusQuery: "up", timeSeriesFilter: { filter: "x" } })]),
      ),
    ).to.have.length(1);
    expect(dashboardProblems("{")).to.deep.equal(["dashboardJson is not JSON"]);
  });
});
