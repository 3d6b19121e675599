// One Cloud Monitoring dashboard per tier (directory, registrar, swarms and atServers), as
// code: charts over the PromQL series Managed Service for Prometheus and the swarm VMs' Ops
// Agents collect, and over Google's own metrics where those say more (uptime, Filestore).
// Layout: a 48-column mosaic, two charts per row.
// Dashboard JSON: https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DIRECTORY_JOB, REGISTRAR_JOB, SWARM_AGENT_JOB, type Tier } from "./alert-rules";

/** A chart: a PromQL query, or a Cloud Monitoring filter over a Google metric. */
export type Chart = { title: string } & (
  { promql: string } | { filter: string; aligner: string; reducer?: string; groupBy?: string[] }
);

const d = `job="${DIRECTORY_JOB}"`;
const r = `job="${REGISTRAR_JOB}"`;
const s = `job="${SWARM_AGENT_JOB}"`;

/** The charts of each tier's dashboard. */
export function dashboardCharts(filestoreInstance: string): Record<Tier, Chart[]> {
  return {
    directory: [
      {
        title: "Root uptime: checker regions passing",
        filter:
          'metric.type="monitoring.googleapis.com/uptime_check/check_passed" resource.type="uptime_url"',
        aligner: "ALIGN_FRACTION_TRUE",
        reducer: "REDUCE_SUM",
        groupBy: ["resource.label.host"],
      },
      {
        title: "Lookups per second by result",
        promql: `sum by (result) (rate(atdirectory_lookups_total{${d}}[5m]))`,
      },
      {
        title: "Lookup latency p50 / p99 (s)",
        promql: `histogram_quantile(0.99, sum by (le) (rate(atdirectory_lookup_duration_seconds_bucket{${d}}[5m]))) or histogram_quantile(0.5, sum by (le) (rate(atdirectory_lookup_duration_seconds_bucket{${d}}[5m])))`,
      },
      { title: "Replicas answering", promql: `count(up{${d}} == 1)` },
      {
        title: "Replicas by store state",
        promql: `sum by (state) (atdirectory_store_state{${d}})`,
      },
      { title: "Open connections", promql: `sum(atdirectory_open_connections{${d}})` },
      {
        title: "Cache hit ratio",
        promql: `avg by (cache) (atdirectory_cache_hit_ratio{${d}})`,
      },
      {
        title: "Registrar probes of active atSigns by result",
        promql: `sum by (result) (rate(registrar_directory_probe_total{${r}}[15m]))`,
      },
      expiry("root"),
    ],
    registrar: [
      { title: "Registrar answering", promql: `sum(up{${r}})` },
      {
        title: "Registrations per minute by flow and result",
        promql: `sum by (flow, result) (rate(registrar_registrations_total{${r}}[5m])) * 60`,
      },
      {
        title: "Activations per minute by flow and result",
        promql: `sum by (flow, result) (rate(registrar_activations_total{${r}}[5m])) * 60`,
      },
      { title: "atSigns by state", promql: `sum by (state) (registrar_atsigns{${r}})` },
      {
        title: "Oldest atSign per provisioning state (s)",
        promql: `max by (state) (registrar_provisioning_oldest_seconds{${r}})`,
      },
      {
        title: "Time to active p95 (s)",
        promql: `histogram_quantile(0.95, sum by (le) (rate(registrar_time_to_active_seconds_bucket{${r}}[1h])))`,
      },
      {
        title: "Orchestrator call latency p95 by operation (s)",
        promql: `histogram_quantile(0.95, sum by (le, op) (rate(registrar_orchestrator_call_duration_seconds_bucket{${r}}[5m])))`,
      },
      {
        title: "Orchestrator errors per minute by operation",
        promql: `sum by (op) (rate(registrar_orchestrator_errors_total{${r}}[5m])) * 60`,
      },
      {
        title: "E-mails per hour by result",
        promql: `sum by (result) (rate(registrar_emails_total{${r}}[1h])) * 3600`,
      },
      expiry("registrar"),
    ],
    swarm: [
      {
        title: "Nodes by swarm and state",
        promql: `sum by (swarm, state) (max by (swarm, role, state, availability) (atplatform_swarm_nodes{${s}}))`,
      },
      {
        title: "Managers reachable / total",
        promql: `max by (swarm) (atplatform_swarm_managers_reachable{${s}}) or max by (swarm) (atplatform_swarm_managers_total{${s}})`,
      },
      {
        title: "Crash-looping atServer services",
        promql: `max by (swarm) (atplatform_swarm_services_crashlooping{${s}})`,
      },
      {
        title: "atServers per swarm",
        promql: `sum by (swarm) (atplatform_agent_atservers{${s}})`,
      },
      {
        title: "atServer connections by kind",
        promql: `sum by (swarm, kind) (atserver_open_connections{${s}})`,
      },
      {
        title: "atServers nearest their memory limit",
        promql: `topk(10, max by (atsign) (atserver_memory_limit_ratio{${s}}))`,
      },
      {
        title: "Agent scrape errors per minute by reason",
        promql: `sum by (swarm, reason) (rate(atplatform_agent_scrape_errors_total{${s}}[5m])) * 60`,
      },
      {
        title: "Filestore share used (%)",
        filter: `metric.type="file.googleapis.com/nfs/server/used_bytes_percent" resource.type="filestore_instance" resource.label.instance_name="${filestoreInstance}"`,
        aligner: "ALIGN_MEAN",
      },
      expiry("swarm_wildcard|docker_api"),
    ],
  };
}

/** Days left on the certificates whose `cert` label matches. */
function expiry(certs: string): Chart {
  return {
    title: `Days until certificates expire (${certs.replace("|", ", ")})`,
    promql: `(min by (cert, target) (atplatform_certificate_expiry_timestamp_seconds{cert=~"${certs}"}) - time()) / 86400`,
  };
}

const WIDTH = 24;
const HEIGHT = 16;

function tile(chart: Chart, i: number) {
  const query =
    "promql" in chart
      ? { prometheusQuery: chart.promql }
      : {
          timeSeriesFilter: {
            filter: chart.filter,
            aggregation: {
              alignmentPeriod: "60s",
              perSeriesAligner: chart.aligner,
              ...(chart.reducer
                ? { crossSeriesReducer: chart.reducer, groupByFields: chart.groupBy ?? [] }
                : {}),
            },
          },
        };
  return {
    xPos: (i % 2) * WIDTH,
    yPos: Math.floor(i / 2) * HEIGHT,
    width: WIDTH,
    height: HEIGHT,
    widget: {
      title: chart.title,
      xyChart: { dataSets: [{ timeSeriesQuery: query, plotType: "LINE" }] },
    },
  };
}

/** The dashboard JSON of one tier. */
export function dashboardJson(title: string, charts: Chart[]): string {
  return JSON.stringify({
    displayName: title,
    mosaicLayout: { columns: 2 * WIDTH, tiles: charts.map(tile) },
  });
}

export interface DashboardsArgs {
  env: string;
  filestoreInstance: pulumi.Input<string>;
}

const TITLES: Record<Tier, string> = {
  directory: "atDirectory (root)",
  registrar: "registrar",
  swarm: "swarms and atServers",
};

export class Dashboards extends pulumi.ComponentResource {
  readonly dashboards: gcp.monitoring.Dashboard[];

  constructor(name: string, args: DashboardsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:monitoring:Dashboards", name, {}, opts);
    this.dashboards = (Object.keys(TITLES) as Tier[]).map(
      (tier) =>
        new gcp.monitoring.Dashboard(
          `${name}-${tier}`,
          {
            dashboardJson: pulumi
              .output(args.filestoreInstance)
              .apply((fs) =>
                dashboardJson(`atplatform ${args.env}: ${TITLES[tier]}`, dashboardCharts(fs)[tier]),
              ),
          },
          { parent: this },
        ),
    );
    this.registerOutputs({});
  }
}
