// Kubernetes NetworkPolicies for one namespace (GKE Dataplane V2 enforces them): everything
// denied in both directions, then exactly the flows the workload needs, plus DNS.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** A peer by address: `<ip>/32` for one endpoint, or a range with exceptions. */
export interface AddressPeer {
  cidr: pulumi.Input<string>;
  except?: string[];
  ports: { protocol: "TCP" | "UDP"; port: pulumi.Input<number> }[];
}

export interface NamespacePoliciesArgs {
  provider: k8s.Provider;
  namespace: pulumi.Input<string>;
  /** The workload's pods. */
  podLabels: Record<string, string>;
  /** Who may connect to the pods. */
  ingress: AddressPeer[];
  /** Where the pods may connect (DNS to kube-dns is added). */
  egress: AddressPeer[];
}

/** Private ranges (RFC 1918): what "the internet" excludes when a port is open to it. */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

const rule = (p: AddressPeer) => ({
  ipBlock: { cidr: p.cidr, ...(p.except ? { except: p.except } : {}) },
});

export class NamespacePolicies extends pulumi.ComponentResource {
  constructor(name: string, args: NamespacePoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:k8s:NamespacePolicies", name, {}, opts);
    const k = { parent: this, provider: args.provider };
    new k8s.networking.v1.NetworkPolicy(
      `${name}-default-deny`,
      {
        metadata: { namespace: args.namespace, name: "default-deny" },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
      k,
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-allow`,
      {
        metadata: { namespace: args.namespace, name: "allow-workload" },
        spec: {
          podSelector: { matchLabels: args.podLabels },
          policyTypes: ["Ingress", "Egress"],
          ingress: args.ingress.map((p) => ({ from: [rule(p)], ports: p.ports })),
          egress: [
            ...args.egress.map((p) => ({ to: [rule(p)], ports: p.ports })),
            {
              to: [
                {
                  namespaceSelector: {
                    matchLabels: { "kubernetes.io/metadata.name": "kube-system" },
                  },
                  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                },
              ],
              ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
              ],
            },
          ],
        },
      },
      k,
    );
    this.registerOutputs({});
  }
}
