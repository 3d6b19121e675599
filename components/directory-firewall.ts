// Firewall for the directory's nodes: the root port is the one thing open to the world,
// and the nodes may not even open a connection to the Redis primary (the directory is a
// reader; a bug or a compromised pod still cannot write the directory).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DIRECTORY_PORT } from "./directory-service";
import { NLB_HEALTH_CHECK_RANGES } from "./network";

export interface DirectoryFirewallArgs {
  network: pulumi.Input<string>;
  nodeTag: string;
  redisPrimaryHost: pulumi.Input<string>;
}

export class DirectoryFirewall extends pulumi.ComponentResource {
  constructor(name: string, args: DirectoryFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:directory:DirectoryFirewall", name, {}, opts);
    const parent = { parent: this };
    // GKE also writes equivalent k8s-fw-* rules for the Service; declaring ours keeps the
    // intent reviewable and policy-checked.
    new gcp.compute.Firewall(
      `${name}-public`,
      {
        network: args.network,
        direction: "INGRESS",
        sourceRanges: ["0.0.0.0/0"],
        targetTags: [args.nodeTag],
        allows: [{ protocol: "tcp", ports: [String(DIRECTORY_PORT)] }],
      },
      parent,
    );
    new gcp.compute.Firewall(
      `${name}-health`,
      {
        network: args.network,
        direction: "INGRESS",
        // The root's LB is an external passthrough NLB: its checkers' ranges.
        sourceRanges: NLB_HEALTH_CHECK_RANGES,
        targetTags: [args.nodeTag],
        // 64 for the LB's data path, 10256 kube-proxy/dataplane health, node ports for Local policy.
        allows: [{ protocol: "tcp", ports: [String(DIRECTORY_PORT), "10256", "30000-32767"] }],
      },
      parent,
    );
    new gcp.compute.Firewall(
      `${name}-no-primary`,
      {
        network: args.network,
        direction: "EGRESS",
        priority: 900,
        destinationRanges: [pulumi.interpolate`${args.redisPrimaryHost}/32`],
        targetTags: [args.nodeTag],
        denies: [{ protocol: "tcp" }],
      },
      parent,
    );
    this.registerOutputs({});
  }
}
