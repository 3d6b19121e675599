// Collection of one workload's metrics by Google Cloud Managed Service for Prometheus: a
// PodMonitoring (the managed collectors on every node scrape the selected pods' port), and
// the NetworkPolicy that opens that port to the collectors alone (the namespaces deny all
// ingress by default, components/network-policies.ts).
// PodMonitoring: https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** Where GKE runs the managed collectors (a DaemonSet) and their pods' label. */
export const GMP_NAMESPACE = "gke-gmp-system";
export const GMP_COLLECTOR_LABELS = { "app.kubernetes.io/name": "collector" };

export interface MetricsScrapeArgs {
  provider: k8s.Provider;
  namespace: pulumi.Input<string>;
  /** The workload's pods. */
  podLabels: Record<string, string>;
  /** The container port serving /metrics: its name (for the PodMonitoring) and number. */
  portName: string;
  port: number;
  /** The `job` label of the series (the PodMonitoring's name). */
  job: string;
  interval?: string;
}

export class MetricsScrape extends pulumi.ComponentResource {
  constructor(name: string, args: MetricsScrapeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:k8s:MetricsScrape", name, {}, opts);
    const k = { parent: this, provider: args.provider };
    new k8s.apiextensions.CustomResource(
      `${name}-podmonitoring`,
      {
        apiVersion: "monitoring.googleapis.com/v1",
        kind: "PodMonitoring",
        metadata: { namespace: args.namespace, name: args.job, labels: args.podLabels },
        spec: {
          selector: { matchLabels: args.podLabels },
          endpoints: [
            {
              port: args.portName,
              path: "/metrics",
              interval: args.interval ?? "30s",
              timeout: "10s",
            },
          ],
        },
      },
      k,
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-metrics`,
      {
        metadata: { namespace: args.namespace, name: "allow-metrics-scrape" },
        spec: {
          podSelector: { matchLabels: args.podLabels },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                {
                  namespaceSelector: {
                    matchLabels: { "kubernetes.io/metadata.name": GMP_NAMESPACE },
                  },
                  podSelector: { matchLabels: GMP_COLLECTOR_LABELS },
                },
              ],
              ports: [{ protocol: "TCP", port: args.port }],
            },
          ],
        },
      },
      k,
    );
    this.registerOutputs({});
  }
}
