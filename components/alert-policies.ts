// The platform's alert policies (components/alert-rules.ts) in Cloud Monitoring, plus the
// uptime check the root's availability alert reads: a TCP connect to root.<domain>:64 from
// Google's checkers in several regions. PromQL conditions read what Managed Service for
// Prometheus and the swarm VMs' Ops Agents collect; Google's own metrics (uptime, Filestore)
// use metric-threshold conditions. Every policy notifies every configured channel.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { AlertRule, GcpCondition } from "./alert-rules";

export interface AlertPoliciesArgs {
  env: string;
  rules: AlertRule[];
  /** Notification channel names (NotificationChannels). */
  channels: pulumi.Input<string>[];
  /** root.<domain> (no trailing dot) and the root port. */
  rootHost: string;
  rootPort: number;
  project: string;
  /** The atServers' Filestore instance. */
  filestoreInstance: pulumi.Input<string>;
  labels: Record<string, string>;
}

/** How often PromQL conditions are evaluated (the API wants a multiple of 30 s). */
const EVALUATION_INTERVAL = "60s";
/** Close an incident a day after its condition stopped holding. */
const AUTO_CLOSE = "86400s";

export class AlertPolicies extends pulumi.ComponentResource {
  readonly rootUptimeCheck: gcp.monitoring.UptimeCheckConfig;
  readonly policies: gcp.monitoring.AlertPolicy[] = [];

  constructor(name: string, args: AlertPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:monitoring:AlertPolicies", name, {}, opts);
    if (args.rules.length === 0) throw new pulumi.ResourceError(`${name}: no alert rules`, this);
    const parent = { parent: this };

    // STATIC_IP_CHECKERS from all regions; the root port is world-open already.
    this.rootUptimeCheck = new gcp.monitoring.UptimeCheckConfig(
      `${name}-root-tcp`,
      {
        displayName: `atplatform ${args.env}: ${args.rootHost}:${args.rootPort}`,
        monitoredResource: {
          type: "uptime_url",
          labels: { project_id: args.project, host: args.rootHost },
        },
        tcpCheck: { port: args.rootPort },
        period: "60s",
        timeout: "10s",
        checkerType: "STATIC_IP_CHECKERS",
        userLabels: args.labels,
      },
      parent,
    );

    for (const rule of args.rules) {
      const c = rule.condition;
      const condition =
        c.kind === "promql"
          ? {
              displayName: rule.title,
              conditionPrometheusQueryLanguage: {
                query: c.query,
                duration: `${c.forSeconds}s`,
                evaluationInterval: EVALUATION_INTERVAL,
                ruleGroup: "atplatform",
                alertRule: rule.id.replace(/-/g, "_"),
                labels: { severity: rule.severity.toLowerCase(), tier: rule.tier },
                // The agent's and prober's series appear only once they run; the API would
                // otherwise refuse a policy over a metric it has not seen yet.
                disableMetricValidation: true,
              },
            }
          : { displayName: rule.title, conditionThreshold: this.threshold(c, args) };
      this.policies.push(
        new gcp.monitoring.AlertPolicy(
          `${name}-${rule.id}`,
          {
            displayName: `atplatform ${args.env}: ${rule.title}`,
            combiner: "OR",
            severity: rule.severity,
            conditions: [condition],
            notificationChannels: args.channels,
            alertStrategy: { autoClose: AUTO_CLOSE },
            documentation: {
              mimeType: "text/markdown",
              subject: `[${rule.severity}] atplatform ${args.env}: ${rule.title}`,
              content: `${rule.meaning}\n\n**First:** ${rule.firstAction}\n\nRunbook: docs/operations.md, "Alerts", \`${rule.id}\`.`,
            },
            userLabels: { ...args.labels, tier: rule.tier },
          },
          parent,
        ),
      );
    }
    this.registerOutputs({});
  }

  private threshold(c: GcpCondition, args: AlertPoliciesArgs) {
    if (c.kind === "root-uptime")
      // Each checker region is a series; REDUCE_COUNT_FALSE counts the regions failing.
      return {
        filter: pulumi.interpolate`metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND resource.type="uptime_url" AND metric.label.check_id="${this.rootUptimeCheck.uptimeCheckId}"`,
        aggregations: [
          {
            alignmentPeriod: "120s",
            perSeriesAligner: "ALIGN_NEXT_OLDER",
            crossSeriesReducer: "REDUCE_COUNT_FALSE",
            groupByFields: ["resource.label.project_id", "resource.label.host"],
          },
        ],
        comparison: "COMPARISON_GT",
        thresholdValue: c.threshold,
        duration: `${c.forSeconds}s`,
        trigger: { count: 1 },
      };
    return {
      filter: pulumi.interpolate`metric.type="file.googleapis.com/nfs/server/used_bytes_percent" AND resource.type="filestore_instance" AND resource.label.instance_name="${args.filestoreInstance}"`,
      aggregations: [{ alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MEAN" }],
      comparison: "COMPARISON_GT",
      thresholdValue: c.threshold,
      duration: `${c.forSeconds}s`,
      trigger: { count: 1 },
    };
  }
}
