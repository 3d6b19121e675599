// A swarm's traffic paths: the internal LB for the Docker Engine API (managers, reachable
// only from the registrar's cluster), the external passthrough NLB for exactly the swarm's
// atServer port range (workers), its DNS names, and the firewall rules for both plus the
// swarm's own ports between its VMs.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { GOOGLE_HEALTH_CHECK_RANGES, IAP_RANGE, NLB_HEALTH_CHECK_RANGES } from "./network";

export const DOCKER_API_PORT = 2376;
export const SWARM_MANAGER_PORT = 2377;
export const SWARM_GOSSIP_PORT = 7946;
export const SWARM_OVERLAY_PORT = 4789;

export interface SwarmNetworkArgs {
  region: string;
  network: pulumi.Input<string>;
  subnet: pulumi.Input<string>;
  managerTag: string;
  workerTag: string;
  managerGroup: pulumi.Input<string>;
  workerGroup: pulumi.Input<string>;
  /** Reserved addresses: internal (Docker API) and external (atServers). */
  dockerAddress: gcp.compute.Address;
  publicAddress: gcp.compute.Address;
  firstPort: number;
  lastPort: number;
  /** The registrar cluster's node and pod ranges: the only Docker API clients. */
  registrarRanges: string[];
  zoneName: pulumi.Input<string>;
  /** <swarm>.<domain> (no trailing dot). */
  swarmDomain: string;
}

export class SwarmNetwork extends pulumi.ComponentResource {
  /** `tcp://<ip>:2376`, what DOCKER_HOST is set to in the registrar. */
  readonly dockerHost: pulumi.Output<string>;

  constructor(name: string, args: SwarmNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:swarm:SwarmNetwork", name, {}, opts);
    const parent = { parent: this };
    const range = `${args.firstPort}-${args.lastPort}`;

    // Docker API: internal passthrough LB over the managers. Health is the swarm manager
    // port, so 2376 itself is never opened to the health checkers.
    const dockerHc = new gcp.compute.RegionHealthCheck(
      `${name}-docker-hc`,
      {
        region: args.region,
        tcpHealthCheck: { port: SWARM_MANAGER_PORT },
        checkIntervalSec: 10,
        timeoutSec: 5,
      },
      parent,
    );
    const dockerBackend = new gcp.compute.RegionBackendService(
      `${name}-docker`,
      {
        region: args.region,
        loadBalancingScheme: "INTERNAL",
        protocol: "TCP",
        healthChecks: dockerHc.id,
        backends: [{ group: args.managerGroup, balancingMode: "CONNECTION" }],
        connectionDrainingTimeoutSec: 30,
      },
      parent,
    );
    new gcp.compute.ForwardingRule(
      `${name}-docker`,
      {
        region: args.region,
        loadBalancingScheme: "INTERNAL",
        ipProtocol: "TCP",
        ports: [String(DOCKER_API_PORT)],
        backendService: dockerBackend.id,
        network: args.network,
        subnetwork: args.subnet,
        ipAddress: args.dockerAddress.address,
        allowGlobalAccess: false,
      },
      parent,
    );
    this.dockerHost = pulumi.interpolate`tcp://${args.dockerAddress.address}:${DOCKER_API_PORT}`;

    // atServers: external passthrough NLB over the workers for exactly the port range; the
    // routing mesh on each worker forwards a port to wherever its atServer runs.
    const publicHc = new gcp.compute.RegionHealthCheck(
      `${name}-atservers-hc`,
      {
        region: args.region,
        tcpHealthCheck: { port: SWARM_GOSSIP_PORT },
        checkIntervalSec: 10,
        timeoutSec: 5,
      },
      parent,
    );
    const publicBackend = new gcp.compute.RegionBackendService(
      `${name}-atservers`,
      {
        region: args.region,
        loadBalancingScheme: "EXTERNAL",
        protocol: "TCP",
        healthChecks: publicHc.id,
        backends: [{ group: args.workerGroup, balancingMode: "CONNECTION" }],
        connectionDrainingTimeoutSec: 300,
      },
      parent,
    );
    new gcp.compute.ForwardingRule(
      `${name}-atservers`,
      {
        region: args.region,
        loadBalancingScheme: "EXTERNAL",
        ipProtocol: "TCP",
        portRange: range,
        backendService: publicBackend.id,
        ipAddress: args.publicAddress.address,
        networkTier: "PREMIUM",
      },
      parent,
    );

    for (const [suffix, dnsName] of [
      ["wildcard", `*.${args.swarmDomain}.`],
      ["apex", `${args.swarmDomain}.`],
    ] as const) {
      new gcp.dns.RecordSet(
        `${name}-${suffix}`,
        {
          managedZone: args.zoneName,
          name: dnsName,
          type: "A",
          ttl: 300,
          rrdatas: [args.publicAddress.address],
        },
        parent,
      );
    }

    const rule = (suffix: string, a: Omit<gcp.compute.FirewallArgs, "network" | "direction">) =>
      new gcp.compute.Firewall(
        `${name}-${suffix}`,
        { network: args.network, direction: "INGRESS", ...a },
        parent,
      );
    // The passthrough NLB keeps client addresses, so the range is open to the world, on workers only.
    rule("atservers", {
      sourceRanges: ["0.0.0.0/0"],
      targetTags: [args.workerTag],
      allows: [{ protocol: "tcp", ports: [range] }],
    });
    // The swarm itself, between its own VMs only: management (2377) is served by managers;
    // gossip (7946) and the VXLAN data path (4789) run between all nodes.
    const members = [args.managerTag, args.workerTag];
    rule("swarm-mgmt", {
      sourceTags: members,
      targetTags: [args.managerTag],
      allows: [{ protocol: "tcp", ports: [String(SWARM_MANAGER_PORT)] }],
    });
    rule("swarm", {
      sourceTags: members,
      targetTags: members,
      allows: [
        { protocol: "tcp", ports: [String(SWARM_GOSSIP_PORT)] },
        { protocol: "udp", ports: [String(SWARM_GOSSIP_PORT), String(SWARM_OVERLAY_PORT)] },
      ],
    });
    // The registrar, and operators through IAP (the second step of `up`; mTLS still applies).
    rule("docker-api", {
      sourceRanges: [...args.registrarRanges, IAP_RANGE],
      targetTags: [args.managerTag],
      allows: [{ protocol: "tcp", ports: [String(DOCKER_API_PORT)] }],
    });
    // Managers: the Docker API's internal LB and auto-healing check 2377.
    rule("health-managers", {
      sourceRanges: GOOGLE_HEALTH_CHECK_RANGES,
      targetTags: [args.managerTag],
      allows: [{ protocol: "tcp", ports: [String(SWARM_MANAGER_PORT)] }],
    });
    // Workers: the atServer NLB (external passthrough) and auto-healing check 7946.
    rule("health-workers", {
      sourceRanges: [...new Set([...GOOGLE_HEALTH_CHECK_RANGES, ...NLB_HEALTH_CHECK_RANGES])],
      targetTags: [args.workerTag],
      allows: [{ protocol: "tcp", ports: [String(SWARM_GOSSIP_PORT)] }],
    });

    this.registerOutputs({ dockerHost: this.dockerHost });
  }
}
