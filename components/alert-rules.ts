// What the platform alerts on (issue 15), as data: each alert's condition, how long it must
// hold, its severity and its runbook line. components/alert-policies.ts turns the list into
// Cloud Monitoring alert policies; docs/operations.md prints the runbook lines (a test
// checks that every alert is there). Metric names are the shared metrics contract
// (docs/architecture.md "Metrics and alerts").

/** The Ops Agent job on every swarm VM (components/ops-agent-config.ts). */
export const SWARM_AGENT_JOB = "swarm-node-agent";
/** PodMonitoring names, which Managed Service for Prometheus uses as the `job` label. */
export const DIRECTORY_JOB = "atdirectory";
export const REGISTRAR_JOB = "registrar";

export type Tier = "directory" | "registrar" | "swarm";
export type Severity = "CRITICAL" | "WARNING";

/** A PromQL condition: it fires once `query` returns a series for `forSeconds`. */
export interface PromQlCondition {
  kind: "promql";
  query: string;
  forSeconds: number;
}

/** A condition on Google's own metrics (built where the resource it watches is known). */
export interface GcpCondition {
  kind: "root-uptime" | "filestore-capacity";
  /** What crosses the threshold: failing checker regions, or the share's used percent. */
  threshold: number;
  forSeconds: number;
}

export interface AlertRule {
  /** Stable id: part of the resource name and the docs anchor. */
  id: string;
  title: string;
  tier: Tier;
  severity: Severity;
  condition: PromQlCondition | GcpCondition;
  /** What it means, for the notification and docs/operations.md. */
  meaning: string;
  /** The first thing to do. */
  firstAction: string;
}

export interface AlertContext {
  swarms: string[];
  /** The directory's replica floor (its HPA's minReplicas). */
  directoryMinReplicas: number;
  certificateWarningDays: number;
}

/** Certificates the prober and the directory report (label `cert` of the expiry metric). */
export const CERTIFICATES: { cert: string; what: string; renew: string }[] = [
  {
    cert: "root",
    what: "root.<domain>'s certificate",
    renew:
      "renew it and `pulumi config set --secret atplatform:rootTlsCert/rootTlsKey`, then `pulumi up` (dev: the stack's private CA re-issues on `pulumi up`)",
  },
  {
    cert: "registrar",
    what: "registrar.<domain>'s certificate",
    renew:
      "renew it and set atplatform:registrarTlsCert/registrarTlsKey, then `pulumi up` (dev: `pulumi up` re-issues)",
  },
  {
    cert: "swarm_wildcard",
    what: "a swarm's wildcard atServer certificate",
    renew:
      "on manager 0 of that swarm run `sudo atplatform-swarm maintain` and read its log (ACME renewal or the private CA's secret)",
  },
  {
    cert: "docker_api",
    what: "a swarm's Docker Engine API server certificate",
    renew:
      "`pulumi up` re-issues it (SwarmSecrets) and managers read it from Secret Manager at boot: recreate them one at a time (see Swarm operations)",
  },
];

const DAY = 86400;

/** Series whose `swarm` label is missing from the agents' reports, one term per swarm. */
function absentPerSwarm(metric: string, swarms: string[]): string {
  return swarms
    .map((s) => `absent_over_time(${metric}{job="${SWARM_AGENT_JOB}",swarm="${s}"}[10m])`)
    .join(" or ");
}

export function alertRules(ctx: AlertContext): AlertRule[] {
  const rules: AlertRule[] = [
    {
      id: "root-unreachable",
      title: "Root endpoint unreachable",
      tier: "directory",
      severity: "CRITICAL",
      condition: { kind: "root-uptime", threshold: 1, forSeconds: 120 },
      meaning:
        "Google's uptime checkers in more than one region cannot open a TCP connection to root.<domain>:64.",
      firstAction:
        "`kubectl -n atdirectory get pods,svc` on the directory cluster: are pods Ready and does the Service still hold the reserved IP?",
    },
    {
      id: "root-unavailable-answers",
      title: "Root answers 'unavailable'",
      tier: "directory",
      severity: "CRITICAL",
      condition: {
        kind: "promql",
        query:
          `sum(rate(atdirectory_lookups_total{job="${DIRECTORY_JOB}",result="unavailable"}[5m]))` +
          ` / sum(rate(atdirectory_lookups_total{job="${DIRECTORY_JOB}"}[5m])) > 0.05`,
        forSeconds: 300,
      },
      meaning:
        "More than 5% of lookups are refused because the directory cannot read Redis (its read endpoint is down or untrusted).",
      firstAction:
        "Check Memorystore's read endpoint (`gcloud redis instances describe`) and the directory pods' logs for store errors.",
    },
    {
      id: "root-wrong-null",
      title: "Root answers null for active atSigns",
      tier: "directory",
      severity: "CRITICAL",
      condition: {
        kind: "promql",
        query:
          `sum(rate(registrar_directory_probe_total{job="${REGISTRAR_JOB}",result="wrong_null"}[15m]))` +
          ` / sum(rate(registrar_directory_probe_total{job="${REGISTRAR_JOB}"}[15m])) > 0.01`,
        forSeconds: 600,
      },
      meaning:
        "More than 1% of the registrar's probes of atSigns it knows are active get `null` from the public root: those atSigns are unreachable.",
      firstAction:
        "Compare the primary's entry for one of them (`redis-cli GET <atsign>`) with a replica's: a replica behind points at Memorystore replication, a missing primary entry at the registrar's directory step (its log).",
    },
    {
      id: "directory-replicas-down",
      title: "Directory below its replica floor",
      tier: "directory",
      severity: "CRITICAL",
      condition: {
        kind: "promql",
        query: `(count(up{job="${DIRECTORY_JOB}"} == 1) or vector(0)) < ${ctx.directoryMinReplicas}`,
        forSeconds: 600,
      },
      meaning: `Fewer than ${ctx.directoryMinReplicas} directory pods answer their metrics scrape: the root runs with less redundancy than configured.`,
      firstAction:
        "`kubectl -n atdirectory describe pods` for scheduling, image or probe failures; check the node pool's size.",
    },
    {
      id: "directory-store-unhealthy",
      title: "Directory replica store not healthy",
      tier: "directory",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query: `sum(atdirectory_store_state{job="${DIRECTORY_JOB}",state!="healthy"}) > 0`,
        forSeconds: 900,
      },
      meaning:
        "At least one directory pod sees its Redis reads node degraded, syncing or unavailable for 15 minutes.",
      firstAction:
        "Check the Memorystore replicas' sync state and the pods' store-state log lines; a replica stuck syncing needs a Memorystore failover or support case.",
    },
    {
      id: "registrar-down",
      title: "Registrar not scraped",
      tier: "registrar",
      severity: "CRITICAL",
      condition: {
        kind: "promql",
        query: `(sum(up{job="${REGISTRAR_JOB}"}) or vector(0)) < 1`,
        forSeconds: 300,
      },
      meaning:
        "The registrar pod has not answered a metrics scrape for 5 minutes: it is down, restarting, or its metrics listener is off.",
      firstAction:
        "`kubectl -n registrar get pods` and `kubectl -n registrar logs statefulset/registrar`.",
    },
    {
      id: "registrar-provisioning-failures",
      title: "Registrar provisioning failures",
      tier: "registrar",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query:
          `sum(increase(registrar_orchestrator_errors_total{job="${REGISTRAR_JOB}"}[15m])) > 5` +
          ` or sum(delta(registrar_atsigns{job="${REGISTRAR_JOB}",state="failed"}[15m])) > 0`,
        forSeconds: 300,
      },
      meaning:
        "More than 5 orchestrator calls failed in 15 minutes, or atSigns moved to `failed`: new atServers are not being created.",
      firstAction:
        "Read the registrar's log for the failing swarm operation; check that swarm's Docker API (`docker --tlsverify node ls`) and its free ports.",
    },
    {
      id: "registrar-provisioning-stuck",
      title: "Registrar provisioning stuck",
      tier: "registrar",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query: `max by (state) (registrar_provisioning_oldest_seconds{job="${REGISTRAR_JOB}"}) > 1800`,
        forSeconds: 300,
      },
      meaning:
        "An atSign has been in the same non-terminal provisioning state for more than 30 minutes.",
      firstAction:
        "Find it with `GET /api/admin/atsigns` (state, history), read its failing step in the registrar log and fix the swarm or directory it waits for.",
    },
    ...CERTIFICATES.map(({ cert, what, renew }): AlertRule => ({
      id: `certificate-expiry-${cert.replace("_", "-")}`,
      title: `Certificate expiring: ${cert}`,
      tier: cert === "root" ? "directory" : cert === "registrar" ? "registrar" : "swarm",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query:
          `min by (target) (atplatform_certificate_expiry_timestamp_seconds{cert="${cert}"}) - time()` +
          ` < ${ctx.certificateWarningDays * DAY}`,
        forSeconds: 3600,
      },
      meaning: `${what} expires in less than ${ctx.certificateWarningDays} days (label \`target\` names which).`,
      firstAction: renew,
    })),
    {
      id: "filestore-capacity",
      title: "Filestore share nearly full",
      tier: "swarm",
      severity: "WARNING",
      condition: { kind: "filestore-capacity", threshold: 85, forSeconds: 900 },
      meaning:
        "The atServers' Filestore share is more than 85% used; atServers fail their writes when it fills.",
      firstAction:
        "Raise atplatform:filestore.capacityGb to the tier's next size and `pulumi up` (Filestore grows online).",
    },
  ];
  // Without swarms there is no registrar (and so no prober): only the directory's own
  // alerts and the share's apply.
  if (ctx.swarms.length === 0)
    return rules.filter(
      (r) =>
        (r.tier === "directory" && r.id !== "root-wrong-null") || r.id === "filestore-capacity",
    );
  return [...rules, ...swarmRules(ctx.swarms)];
}

function swarmRules(swarms: string[]): AlertRule[] {
  const notReady = `atplatform_swarm_nodes{job="${SWARM_AGENT_JOB}",state!="ready"}`;
  const reachable = `atplatform_swarm_managers_reachable{job="${SWARM_AGENT_JOB}"}`;
  const total = `atplatform_swarm_managers_total{job="${SWARM_AGENT_JOB}"}`;
  return [
    {
      id: "swarm-nodes-down",
      title: "Swarm nodes not ready",
      tier: "swarm",
      severity: "WARNING",
      condition: {
        kind: "promql",
        // Every manager reports the whole swarm: the max across them, then a sum by swarm.
        query: `sum by (swarm) (max by (swarm, role, state, availability) (${notReady})) > 0`,
        forSeconds: 600,
      },
      meaning:
        "A swarm lists nodes that are down, unknown or disconnected for 10 minutes; their atServers are being rescheduled or are down.",
      firstAction:
        "`docker node ls` on a manager; a worker the MIG replaced is pruned by the maintenance timer, a manager needs its VM checked.",
    },
    {
      id: "swarm-manager-unreachable",
      title: "Swarm manager unreachable",
      tier: "swarm",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query: `max by (swarm) (${reachable}) < max by (swarm) (${total})`,
        forSeconds: 900,
      },
      meaning:
        "A swarm manager has been unreachable for 15 minutes: the swarm still has quorum but one more loss stops it.",
      firstAction:
        "Find it with `docker node ls` (MANAGER STATUS), check its VM in the managers' instance group and let auto-healing or a manual restart bring it back.",
    },
    {
      id: "swarm-quorum-lost",
      title: "Swarm quorum lost",
      tier: "swarm",
      severity: "CRITICAL",
      condition: {
        kind: "promql",
        // Without quorum the Engine API cannot list nodes, so the managers' reports stop:
        // their absence counts as a loss too.
        query: `max by (swarm) (${reachable}) * 2 <= max by (swarm) (${total}) or ${absentPerSwarm("atplatform_swarm_managers_total", swarms)}`,
        forSeconds: 300,
      },
      meaning:
        "At most half of a swarm's managers are reachable, or no manager has reported for 10 minutes: the swarm cannot schedule or heal atServers.",
      firstAction:
        "Bring managers back (their VMs in the managers' group); if a majority is gone for good, run `docker swarm init --force-new-cluster` on a surviving manager and let the others rejoin.",
    },
    {
      id: "atserver-crash-loops",
      title: "atServers crash-looping",
      tier: "swarm",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query: `max by (swarm) (atplatform_swarm_services_crashlooping{job="${SWARM_AGENT_JOB}"}) > 0`,
        forSeconds: 300,
      },
      meaning: "atServer services had 3 or more failed or rejected tasks in the last 10 minutes.",
      firstAction:
        "`docker service ps --no-trunc <service>` on a manager for the error; a storage or memory-limit error points at Filestore or the atSign's data.",
    },
    {
      id: "swarm-agent-errors",
      title: "Swarm metrics agent failing",
      tier: "swarm",
      severity: "WARNING",
      condition: {
        kind: "promql",
        query: `sum by (swarm, reason) (rate(atplatform_agent_scrape_errors_total{job="${SWARM_AGENT_JOB}"}[15m])) > 0.1`,
        forSeconds: 900,
      },
      meaning:
        "A node's metrics agent keeps failing to read the Engine API or atServers' endpoints: the swarm's dashboards and alerts see only part of it.",
      firstAction:
        "Read the agent's log on the node (`docker service logs` of the agent) for the `reason` shown.",
    },
  ];
}
