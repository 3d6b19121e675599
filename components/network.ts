// The platform's VPC: one custom-mode network, a subnet per workload (each GKE subnet with
// its pod and service ranges), Cloud NAT for private nodes, private service access for
// Memorystore and Filestore, and the baseline firewall. Workload-specific openings are
// added by the components that own the workload.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** Address plan (RFC 1918, non-overlapping, documented in docs/architecture.md). */
export const ADDRESS_PLAN = {
  directory: { nodes: "10.10.0.0/20", pods: "10.20.0.0/16", services: "10.21.0.0/20" },
  registrar: { nodes: "10.11.0.0/22", pods: "10.22.0.0/17", services: "10.23.0.0/22" },
  swarm: { nodes: "10.12.0.0/20" },
  /** Peered range for Google-managed services (Memorystore, Filestore). */
  services: { address: "10.60.0.0", prefix: 16 },
} as const;

/**
 * Docker overlay addresses inside every swarm (not VPC ranges, but containers must not see
 * them shadow a VPC address): the routing mesh's ingress network, sized for the published
 * atServers (a VIP per service plus an address per task: about 32,000 per swarm), and the
 * pool other overlay networks are cut from. MTU: the VPC's 1460 minus VXLAN's 50 bytes.
 */
export const SWARM_OVERLAY = {
  ingress: "10.96.0.0/16",
  pool: "10.97.0.0/16",
  poolMask: 24,
  mtu: 1410,
} as const;

/**
 * Health-check sources, https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges:
 * internal passthrough and proxy LBs and MIG auto-healing probe from these two ranges;
 * external passthrough NLBs from 35.191.0.0/16, 209.85.152.0/22 and 209.85.204.0/22.
 */
export const GOOGLE_HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"];
export const NLB_HEALTH_CHECK_RANGES = ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"];
/** Identity-Aware Proxy TCP forwarding (operator SSH without public IPs). */
export const IAP_RANGE = "35.235.240.0/20";

export interface GkeSubnet {
  subnet: gcp.compute.Subnetwork;
  podsRange: string;
  servicesRange: string;
}

export interface NetworkArgs {
  region: string;
}

export class Network extends pulumi.ComponentResource {
  readonly vpc: gcp.compute.Network;
  readonly directorySubnet: GkeSubnet;
  readonly registrarSubnet: GkeSubnet;
  readonly swarmSubnet: gcp.compute.Subnetwork;
  /** Private service access; Memorystore and Filestore depend on it. */
  readonly serviceConnection: gcp.servicenetworking.Connection;
  readonly serviceRange: gcp.compute.GlobalAddress;
  /** Cloud NAT: the private nodes' and VMs' only way out. */
  readonly nat: gcp.compute.RouterNat;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:network:Network", name, {}, opts);
    const parent = { parent: this };

    this.vpc = new gcp.compute.Network(
      `${name}-vpc`,
      { autoCreateSubnetworks: false, routingMode: "REGIONAL" },
      parent,
    );

    const gkeSubnet = (role: "directory" | "registrar"): GkeSubnet => {
      const plan = ADDRESS_PLAN[role];
      const subnet = new gcp.compute.Subnetwork(
        `${name}-${role}`,
        {
          network: this.vpc.id,
          region: args.region,
          ipCidrRange: plan.nodes,
          privateIpGoogleAccess: true,
          secondaryIpRanges: [
            { rangeName: `${role}-pods`, ipCidrRange: plan.pods },
            { rangeName: `${role}-services`, ipCidrRange: plan.services },
          ],
          logConfig: { aggregationInterval: "INTERVAL_5_MIN", flowSampling: 0.1 },
        },
        parent,
      );
      return { subnet, podsRange: `${role}-pods`, servicesRange: `${role}-services` };
    };
    this.directorySubnet = gkeSubnet("directory");
    this.registrarSubnet = gkeSubnet("registrar");
    this.swarmSubnet = new gcp.compute.Subnetwork(
      `${name}-swarm`,
      {
        network: this.vpc.id,
        region: args.region,
        ipCidrRange: ADDRESS_PLAN.swarm.nodes,
        privateIpGoogleAccess: true,
        logConfig: { aggregationInterval: "INTERVAL_5_MIN", flowSampling: 0.1 },
      },
      parent,
    );

    // Private nodes and VMs have no public address; NAT lets them pull images and packages.
    const router = new gcp.compute.Router(
      `${name}-router`,
      { network: this.vpc.id, region: args.region },
      parent,
    );
    this.nat = new gcp.compute.RouterNat(
      `${name}-nat`,
      {
        router: router.name,
        region: args.region,
        natIpAllocateOption: "AUTO_ONLY",
        sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES",
        enableDynamicPortAllocation: true,
        minPortsPerVm: 128,
        logConfig: { enable: true, filter: "ERRORS_ONLY" },
      },
      parent,
    );

    this.serviceRange = new gcp.compute.GlobalAddress(
      `${name}-services`,
      {
        network: this.vpc.id,
        purpose: "VPC_PEERING",
        addressType: "INTERNAL",
        address: ADDRESS_PLAN.services.address,
        prefixLength: ADDRESS_PLAN.services.prefix,
      },
      parent,
    );
    this.serviceConnection = new gcp.servicenetworking.Connection(
      `${name}-psa`,
      {
        network: this.vpc.id,
        service: "servicenetworking.googleapis.com",
        reservedPeeringRanges: [this.serviceRange.name],
        // Deleting the peering fails while Google still holds producer resources (Redis,
        // Filestore are deleted asynchronously): abandon it on destroy instead of failing.
        deletionPolicy: "ABANDON",
      },
      parent,
    );

    // Baseline: the VPC's implied deny-ingress. Each workload opens exactly what it needs
    // (directory-firewall.ts, swarm-network.ts); the two GKE clusters get nothing from each
    // other (GKE's own rules cover traffic inside a cluster), and the flow model in
    // test/components/flows.spec.ts checks the whole table.
    new gcp.compute.Firewall(
      `${name}-iap-ssh`,
      {
        network: this.vpc.id,
        direction: "INGRESS",
        sourceRanges: [IAP_RANGE],
        allows: [{ protocol: "tcp", ports: ["22"] }],
      },
      parent,
    );

    this.registerOutputs({ vpc: this.vpc.id });
  }
}

/** Network tags carried by each workload's VMs, used as firewall targets. */
export const NODE_TAGS = {
  directory: "atp-directory-node",
  registrar: "atp-registrar-node",
} as const;
// Swarm VMs are tagged per swarm (atp-swarm-<name>-manager|worker) by SwarmCluster.
