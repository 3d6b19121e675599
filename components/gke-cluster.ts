// A regional, private GKE cluster with Workload Identity, shielded nodes, a release channel
// and one autoscaling node pool, plus the Kubernetes provider that targets it. Used twice:
// the directory's cluster and the smaller registrar cluster.
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "./config";
import type { GkeSubnet } from "./network";

export interface GkeClusterArgs {
  project: string;
  region: string;
  /** Zones the nodes run in (at least three). */
  zones: string[];
  network: pulumi.Input<string>;
  subnet: GkeSubnet;
  sizing: ClusterConfig;
  /** Network tag on every node, for firewall rules. */
  nodeTag: string;
  /** CIDRs allowed on the IP control-plane endpoint; the DNS endpoint is IAM-gated. */
  authorizedNetworks: string[];
  deletionProtection: boolean;
  labels: Record<string, string>;
  /** Cloud KMS key for application-layer Secrets encryption, and the grant GKE needs on it. */
  secretsKey: { keyId: pulumi.Input<string>; grant: pulumi.Resource };
  /** The project's Binary Authorization policy, enforced at admission. */
  admissionPolicy: pulumi.Resource;
}

const NODE_ROLES = [
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
];

/** Regional clusters and pools routinely take 15-30 minutes; the defaults are tighter. */
const SLOW = { create: "60m", update: "60m", delete: "60m" };

export class GkeCluster extends pulumi.ComponentResource {
  readonly cluster: gcp.container.Cluster;
  readonly nodePool: gcp.container.NodePool;
  readonly nodeServiceAccount: gcp.serviceaccount.Account;
  readonly provider: k8s.Provider;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:gke:GkeCluster", name, {}, opts);
    if (args.zones.length < 3)
      throw new pulumi.ResourceError(`${name}: needs at least three zones`, this);
    const parent = { parent: this };

    // Nodes run as a dedicated minimal service account, never the Compute default.
    this.nodeServiceAccount = new gcp.serviceaccount.Account(
      `${name}-nodes`,
      { accountId: `${name}-nodes`.slice(0, 30), displayName: `${name} GKE nodes` },
      parent,
    );
    for (const role of NODE_ROLES) {
      new gcp.projects.IAMMember(
        `${name}-nodes-${role.split("/")[1]}`,
        { project: args.project, role, member: this.nodeServiceAccount.member },
        parent,
      );
    }

    this.cluster = new gcp.container.Cluster(
      name,
      {
        location: args.region,
        nodeLocations: args.zones,
        network: args.network,
        subnetwork: args.subnet.subnet.id,
        networkingMode: "VPC_NATIVE",
        ipAllocationPolicy: {
          clusterSecondaryRangeName: args.subnet.podsRange,
          servicesSecondaryRangeName: args.subnet.servicesRange,
        },
        removeDefaultNodePool: true,
        initialNodeCount: 1,
        // The default pool lives only until it is removed, but it must not run as the
        // Compute Engine default account (Editor) meanwhile.
        nodeConfig: {
          serviceAccount: this.nodeServiceAccount.email,
          oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
          shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        },
        releaseChannel: { channel: args.sizing.releaseChannel },
        workloadIdentityConfig: { workloadPool: `${args.project}.svc.id.goog` },
        enableShieldedNodes: true,
        privateClusterConfig: {
          enablePrivateNodes: true,
          enablePrivateEndpoint: false,
          masterIpv4CidrBlock: args.sizing.masterCidr,
          masterGlobalAccessConfig: { enabled: true },
        },
        masterAuthorizedNetworksConfig: {
          cidrBlocks: args.authorizedNetworks.map((c) => ({ cidrBlock: c, displayName: c })),
          gcpPublicCidrsAccessEnabled: false,
        },
        // The DNS endpoint is authorised by IAM, so CI runners with Workload Identity
        // Federation reach the API without IP allowlists.
        controlPlaneEndpointsConfig: { dnsEndpointConfig: { allowExternalTraffic: true } },
        datapathProvider: "ADVANCED_DATAPATH",
        // Secrets in etcd are encrypted with our KMS key (envelope encryption).
        databaseEncryption: { state: "ENCRYPTED", keyName: args.secretsKey.keyId },
        binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
        // Managed Service for Prometheus: collectors on every node, driven by PodMonitoring.
        monitoringConfig: {
          enableComponents: ["SYSTEM_COMPONENTS"],
          managedPrometheus: { enabled: true },
        },
        maintenancePolicy: { dailyMaintenanceWindow: { startTime: "03:00" } },
        deletionProtection: args.deletionProtection,
        resourceLabels: args.labels,
      },
      {
        parent: this,
        customTimeouts: SLOW,
        dependsOn: [args.secretsKey.grant, args.admissionPolicy],
      },
    );

    this.nodePool = new gcp.container.NodePool(
      `${name}-pool`,
      {
        cluster: this.cluster.id,
        location: args.region,
        nodeLocations: args.zones,
        initialNodeCount: args.sizing.minNodesPerZone,
        autoscaling: {
          minNodeCount: args.sizing.minNodesPerZone,
          maxNodeCount: args.sizing.maxNodesPerZone,
          locationPolicy: "BALANCED",
        },
        management: { autoRepair: true, autoUpgrade: true },
        upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
        nodeConfig: {
          machineType: args.sizing.machineType,
          serviceAccount: this.nodeServiceAccount.email,
          oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
          workloadMetadataConfig: { mode: "GKE_METADATA" },
          shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
          diskType: "pd-balanced",
          diskSizeGb: 50,
          tags: [args.nodeTag],
          labels: args.labels,
          metadata: { "disable-legacy-endpoints": "true" },
        },
      },
      { parent: this, ignoreChanges: ["initialNodeCount"] },
    );

    this.name = this.cluster.name;
    const kubeconfig = kubeconfigFor(this.cluster);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig, enableServerSideApply: true },
      { parent: this, dependsOn: [this.nodePool] },
    );

    this.registerOutputs({ name: this.name });
  }
}

/** Kubeconfig for the DNS endpoint, authenticated by gke-gcloud-auth-plugin (no static credentials). */
export function kubeconfigFor(cluster: gcp.container.Cluster): pulumi.Output<string> {
  return pulumi
    .all([cluster.name, cluster.controlPlaneEndpointsConfig])
    .apply(([clusterName, endpoints]) => {
      const server = `https://${endpoints.dnsEndpointConfig.endpoint}`;
      return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: { server } }],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
        users: [
          {
            name: clusterName,
            user: {
              exec: {
                apiVersion: "client.authentication.k8s.io/v1beta1",
                command: "gke-gcloud-auth-plugin",
                installHint:
                  "Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)",
                provideClusterInfo: true,
              },
            },
          },
        ],
      });
    });
}
