// The Ops Agent configuration of a swarm VM: its Prometheus receiver scrapes the node's
// metrics agent on loopback (job `swarm-node-agent`) and labels every series with the swarm
// and the node's role, so alerts and dashboards group by swarm without per-atSign config.
// It travels as instance metadata (OPS_AGENT_CONFIG_KEY); scripts/swarm-node.sh writes it
// to the agent's config file at boot. The built-in host-metrics pipeline stays as it is
// (the workers' autoscaler reads its memory metric).
// Format: https://cloud.google.com/stackdriver/docs/solutions/agents/ops-agent/prometheus-metrics
import { SWARM_AGENT_JOB } from "./alert-rules";

/** Where the per-node metrics agent listens (host port, loopback only: the shared contract). */
export const SWARM_AGENT_METRICS_PORT = 9464;
/** Instance metadata key the startup script reads the configuration from. */
export const OPS_AGENT_CONFIG_KEY = "atplatform-ops-agent-config";
const RECEIVER = "atplatform_node_agent";

export interface OpsAgentTarget {
  swarm: string;
  role: "manager" | "worker";
}

/** The agent's config.yaml (JSON, which is YAML) for one swarm and role. */
export function opsAgentConfig(t: OpsAgentTarget): string {
  if (!/^[a-z][a-z0-9]*$/.test(t.swarm)) throw new Error(`swarm name "${t.swarm}" is not a label`);
  const config = {
    metrics: {
      receivers: {
        [RECEIVER]: {
          type: "prometheus",
          config: {
            scrape_configs: [
              {
                job_name: SWARM_AGENT_JOB,
                scrape_interval: "30s",
                scrape_timeout: "10s",
                metrics_path: "/metrics",
                static_configs: [{ targets: [`127.0.0.1:${SWARM_AGENT_METRICS_PORT}`] }],
                // Constant labels: an empty source always matches, so `replacement` is set.
                relabel_configs: [
                  { target_label: "swarm", replacement: t.swarm },
                  { target_label: "role", replacement: t.role },
                ],
              },
            ],
          },
        },
      },
      // A pipeline of its own; the Prometheus receiver takes no processors.
      service: { pipelines: { [RECEIVER]: { receivers: [RECEIVER] } } },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
