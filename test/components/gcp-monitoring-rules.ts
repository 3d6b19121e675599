// What Cloud Monitoring (and Managed Service for Prometheus's PodMonitoring) would refuse in
// the resources the stack registers: alert policies, uptime checks, notification channels,
// dashboards. Part of gcp-rules.ts's RULES; each rule cites its source.

type Inputs = Record<string, any>;
type Rule = (i: Inputs) => string[];

/** A protobuf Duration in JSON: seconds with an `s` suffix ("60s", "1.5s"). */
const DURATION = /^\d+(\.\d{1,9})?s$/;
const seconds = (d: string) => Number(d.slice(0, -1));

/** Prometheus label names: https://prometheus.io/docs/concepts/data_model/ */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// User labels of policies, channels and checks: up to 64, keys and values at most 63
// characters of lower-case letters, digits, `_` and `-`, keys starting with a letter.
// https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies (userLabels)
function userLabels(labels: Record<string, string> | undefined): string[] {
  const entries = Object.entries(labels ?? {});
  const out = entries.length > 64 ? ["more than 64 user labels"] : [];
  for (const [k, v] of entries) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(k)) out.push(`user label key "${k}" is invalid`);
    if (!/^[a-z0-9_-]{0,63}$/.test(v)) out.push(`user label value "${v}" (${k}) is invalid`);
  }
  return out;
}

const CONDITION_KINDS = [
  "conditionThreshold",
  "conditionAbsent",
  "conditionMatchedLog",
  "conditionMonitoringQueryLanguage",
  "conditionPrometheusQueryLanguage",
  "conditionSql",
];

// PromQL conditions (AlertPolicy.Condition.PrometheusQueryLanguageCondition, as the
// provider's schema documents it in @pulumi/gcp types/input.d.ts): `query` not empty;
// `duration` zero or positive; `evaluationInterval` a positive multiple of 30 s; `alertRule`
// a valid Prometheus label name; label names valid.
function promql(c: Inputs): string[] {
  const out: string[] = [];
  if (typeof c.query !== "string" || c.query.trim() === "") out.push("PromQL query is empty");
  if (c.duration !== undefined && !DURATION.test(c.duration))
    out.push(`PromQL duration "${c.duration}" is not a Duration`);
  if (c.evaluationInterval !== undefined) {
    const ok = DURATION.test(c.evaluationInterval);
    const s = ok ? seconds(c.evaluationInterval) : 0;
    if (!ok || s <= 0 || s % 30 !== 0)
      out.push(`evaluationInterval "${c.evaluationInterval}" is not a positive multiple of 30s`);
  }
  if (c.alertRule !== undefined && !LABEL_NAME.test(c.alertRule))
    out.push(`alertRule "${c.alertRule}" is not a Prometheus label name`);
  for (const k of Object.keys(c.labels ?? {}))
    if (!LABEL_NAME.test(k)) out.push(`PromQL label "${k}" is not a label name`);
  return out;
}

// Metric-threshold conditions (MetricThreshold): a filter; `duration` a multiple of 60 s;
// only COMPARISON_GT and COMPARISON_LT are accepted; an aggregation's alignmentPeriod is at
// least 60 s, and a cross-series reducer needs a per-series aligner other than ALIGN_NONE.
// https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#MetricThreshold
// and https://cloud.google.com/monitoring/api/ref_v3/rest/v3/Aggregation
function threshold(c: Inputs): string[] {
  const out: string[] = [];
  if (typeof c.filter !== "string" || c.filter === "") out.push("threshold without a filter");
  if (!DURATION.test(c.duration ?? "") || seconds(c.duration) % 60 !== 0)
    out.push(`threshold duration "${c.duration}" is not a multiple of 60s`);
  if (!["COMPARISON_GT", "COMPARISON_LT"].includes(c.comparison))
    out.push(`comparison ${c.comparison} is not COMPARISON_GT or COMPARISON_LT`);
  for (const a of c.aggregations ?? []) {
    if (a.alignmentPeriod !== undefined && !(seconds(a.alignmentPeriod) >= 60))
      out.push(`alignmentPeriod "${a.alignmentPeriod}" is under 60s`);
    if (
      a.crossSeriesReducer &&
      a.crossSeriesReducer !== "REDUCE_NONE" &&
      (!a.perSeriesAligner || a.perSeriesAligner === "ALIGN_NONE")
    )
      out.push("a cross-series reducer needs a per-series aligner");
  }
  return out;
}

// Alert policies: one to six conditions, each of exactly one kind; a policy with a PromQL
// condition has no other condition; more than one condition needs a combiner; severity is
// CRITICAL, ERROR or WARNING; documentation content at most 8,192 characters in text/markdown;
// autoClose at least 30 minutes.
// https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies,
// https://cloud.google.com/monitoring/promql/create-promql-alerts-console (one PromQL
// condition per policy), provider schema (documentation.content limit, autoClose).
const alertPolicy: Rule = (i) => {
  const out = userLabels(i.userLabels);
  const conditions: Inputs[] = i.conditions ?? [];
  if (conditions.length < 1 || conditions.length > 6)
    out.push(`${conditions.length} conditions (1 to 6 allowed)`);
  if (conditions.length > 1 && !i.combiner) out.push("several conditions without a combiner");
  for (const c of conditions) {
    const kinds = CONDITION_KINDS.filter((k) => c[k] !== undefined);
    if (kinds.length !== 1) {
      out.push(`condition "${c.displayName}" has ${kinds.length} kinds`);
      continue;
    }
    if (!c.displayName) out.push("condition without displayName");
    if (c.conditionPrometheusQueryLanguage) {
      if (conditions.length > 1) out.push("a PromQL condition must be the policy's only one");
      out.push(...promql(c.conditionPrometheusQueryLanguage));
    }
    if (c.conditionThreshold) out.push(...threshold(c.conditionThreshold));
  }
  if (i.severity !== undefined && !["CRITICAL", "ERROR", "WARNING"].includes(i.severity))
    out.push(`severity ${i.severity} is invalid`);
  const doc = i.documentation;
  if (doc) {
    if ((doc.content ?? "").length > 8192) out.push("documentation over 8192 characters");
    if (doc.mimeType !== undefined && doc.mimeType !== "text/markdown")
      out.push(`documentation mimeType ${doc.mimeType}`);
  }
  const close = i.alertStrategy?.autoClose;
  if (close !== undefined && !(DURATION.test(close) && seconds(close) >= 1800))
    out.push(`autoClose "${close}" is under 30 minutes`);
  return out;
};

// Uptime checks: period 60s, 300s, 600s or 900s; timeout 1-60 s; exactly one of httpCheck,
// tcpCheck and syntheticMonitor; an `uptime_url` resource names its host and project.
// Provider docs of UptimeCheckConfig (period, timeout) and
// https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.uptimeCheckConfigs
const uptimeCheck: Rule = (i) => {
  const out = userLabels(i.userLabels);
  if (i.period !== undefined && !["60s", "300s", "600s", "900s"].includes(i.period))
    out.push(`period ${i.period} is not 60s, 300s, 600s or 900s`);
  if (!DURATION.test(i.timeout ?? "") || seconds(i.timeout) < 1 || seconds(i.timeout) > 60)
    out.push(`timeout "${i.timeout}" is outside 1s-60s`);
  const kinds = ["httpCheck", "tcpCheck", "syntheticMonitor"].filter((k) => i[k] !== undefined);
  if (kinds.length !== 1) out.push(`${kinds.length} check kinds (exactly one needed)`);
  const r = i.monitoredResource;
  if (r?.type === "uptime_url" && (!r.labels?.host || !r.labels?.project_id))
    out.push("an uptime_url resource needs labels host and project_id");
  if (i.tcpCheck && !(i.tcpCheck.port >= 1 && i.tcpCheck.port <= 65535))
    out.push(`tcpCheck port ${i.tcpCheck.port}`);
  return out;
};

// Notification channels: an e-mail channel has label email_address; a PagerDuty channel
// its service key, which belongs in sensitiveLabels and never also in labels ("Credentials
// may not be specified in both locations"): provider docs of NotificationChannel and
// https://cloud.google.com/monitoring/support/notification-options
const notificationChannel: Rule = (i) => {
  const out = userLabels(i.userLabels);
  const labels = i.labels ?? {};
  if (i.type === "email" && !/^[^@\s]+@[^@\s]+$/.test(labels.email_address ?? ""))
    out.push("an email channel needs labels.email_address");
  if (i.type === "pagerduty") {
    if (!i.sensitiveLabels?.serviceKey) out.push("a pagerduty channel needs its service key");
    if (labels.service_key !== undefined)
      out.push("the service key is in labels (in clear) as well as in sensitiveLabels");
  }
  return out;
};

// Dashboards: the JSON parses, has a displayName and exactly one layout; a mosaic has 1-48
// columns and tiles inside it that do not overlap; a widget has exactly one content; an
// XyChart has data sets; a TimeSeriesQuery has exactly one of its query kinds.
// https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards (Dashboard,
// MosaicLayout, Tile, Widget, XyChart, TimeSeriesQuery)
const LAYOUTS = ["gridLayout", "mosaicLayout", "rowLayout", "columnLayout"];
const WIDGETS = ["xyChart", "scorecard", "text", "blank", "alertChart", "timeSeriesTable"];
const QUERIES = [
  "timeSeriesFilter",
  "timeSeriesFilterRatio",
  "timeSeriesQueryLanguage",
  "prometheusQuery",
];
export function dashboardProblems(json: string): string[] {
  let d: any;
  try {
    d = JSON.parse(json);
  } catch {
    return ["dashboardJson is not JSON"];
  }
  const out: string[] = [];
  if (!d.displayName) out.push("dashboard without displayName");
  const layouts = LAYOUTS.filter((l) => d[l] !== undefined);
  if (layouts.length !== 1) return [...out, `${layouts.length} layouts`];
  if (!d.mosaicLayout) return out;
  const cols = d.mosaicLayout.columns;
  if (!(Number.isInteger(cols) && cols >= 1 && cols <= 48)) out.push(`columns ${cols}`);
  const tiles: any[] = d.mosaicLayout.tiles ?? [];
  tiles.forEach((t, n) => {
    const x = t.xPos ?? 0;
    const y = t.yPos ?? 0;
    if (x < 0 || y < 0 || !(t.width >= 1) || !(t.height >= 1) || x + t.width > cols)
      out.push(`tile ${n} lies outside the ${cols} columns`);
    tiles.slice(0, n).forEach((o, m) => {
      const ox = o.xPos ?? 0;
      const oy = o.yPos ?? 0;
      if (x < ox + o.width && ox < x + t.width && y < oy + o.height && oy < y + t.height)
        out.push(`tiles ${m} and ${n} overlap`);
    });
    const w = t.widget ?? {};
    const kinds = WIDGETS.filter((k) => w[k] !== undefined);
    if (kinds.length !== 1) out.push(`tile ${n}'s widget has ${kinds.length} contents`);
    if (w.xyChart) {
      const sets: any[] = w.xyChart.dataSets ?? [];
      if (sets.length === 0) out.push(`tile ${n}: xyChart without dataSets`);
      for (const s of sets) {
        const q = QUERIES.filter((k) => s.timeSeriesQuery?.[k] !== undefined);
        if (q.length !== 1) out.push(`tile ${n}: timeSeriesQuery has ${q.length} query kinds`);
      }
    }
  });
  return out;
}
const dashboard: Rule = (i) =>
  typeof i.dashboardJson === "string" ? dashboardProblems(i.dashboardJson) : [];

// PodMonitoring (Managed Service for Prometheus CRD, prometheus-engine
// pkg/operator/apis/monitoring/v1 types): a selector and at least one endpoint, each with a
// port; interval and timeout are Prometheus durations and the timeout is not larger than
// the interval.
const PROM_DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;
function promSeconds(d: string): number {
  const m = PROM_DURATION.exec(d);
  if (!m || d === "") return NaN;
  const n = (k: number) => Number(m[k] ?? 0);
  return (
    n(2) * 31536000 + n(4) * 604800 + n(6) * 86400 + n(8) * 3600 + n(10) * 60 + n(12) + n(14) / 1000
  );
}
const podMonitoring: Rule = (i) => {
  const out: string[] = [];
  const spec = i.spec ?? {};
  if (!spec.selector) out.push("PodMonitoring without selector");
  const eps: any[] = spec.endpoints ?? [];
  if (eps.length === 0) out.push("PodMonitoring without endpoints");
  for (const e of eps) {
    if (e.port === undefined) out.push("endpoint without port");
    const iv = promSeconds(e.interval ?? "1m");
    if (Number.isNaN(iv)) out.push(`interval "${e.interval}" is not a Prometheus duration`);
    if (e.timeout !== undefined) {
      const to = promSeconds(e.timeout);
      if (Number.isNaN(to)) out.push(`timeout "${e.timeout}" is not a Prometheus duration`);
      else if (to > iv) out.push(`timeout ${e.timeout} is larger than interval ${e.interval}`);
    }
  }
  return out;
};

export const MONITORING_RULES: Record<string, Rule> = {
  "gcp:monitoring/alertPolicy:AlertPolicy": alertPolicy,
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": uptimeCheck,
  "gcp:monitoring/notificationChannel:NotificationChannel": notificationChannel,
  "gcp:monitoring/dashboard:Dashboard": dashboard,
  "kubernetes:monitoring.googleapis.com/v1:PodMonitoring": podMonitoring,
};
