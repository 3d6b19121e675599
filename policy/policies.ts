// The platform's guard rails, enforced by `pulumi preview --policy-pack policy` and also run
// offline in the component tests over the mock-recorded resources.
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/** The atProtocol root port, the one port the directory exposes to the world. */
const ROOT_PORT = "64";
/** Swarm workers (tag atp-swarm-<name>-worker) alone may expose an atServer port range to the world. */
const SWARM_WORKER_TAG = /^atp-swarm-[a-z0-9]+-worker$/;

export const policies: ResourceValidationPolicy[] = [
  {
    name: "gke-regional-private-wi",
    description:
      "GKE clusters are regional over three or more zones, with private nodes, Workload Identity, shielded nodes and a release channel.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.container.Cluster, (c, _args, report) => {
      if (!/^[a-z]+-[a-z]+\d+$/.test(String(c.location)))
        report(`location ${c.location} is not a region`);
      if ((c.nodeLocations ?? []).length < 3)
        report("nodeLocations must list at least three zones");
      if (!c.privateClusterConfig?.enablePrivateNodes) report("private nodes must be enabled");
      if (!c.workloadIdentityConfig?.workloadPool) report("Workload Identity must be enabled");
      if (!c.enableShieldedNodes) report("shielded nodes must be enabled");
      if (!c.releaseChannel?.channel) report("a release channel is required");
      if (!c.removeDefaultNodePool) report("the default node pool must be removed");
    }),
  },
  {
    name: "gke-nodepool-autoscaled-hardened",
    description:
      "Node pools autoscale, run shielded with the GKE metadata server, and use a dedicated service account.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.container.NodePool, (p, _args, report) => {
      const a = p.autoscaling;
      if (!a || a.maxNodeCount === undefined || a.minNodeCount === undefined)
        report("autoscaling bounds are required");
      else if (a.maxNodeCount < a.minNodeCount) report("autoscaling max is below min");
      if (p.nodeCount !== undefined) report("nodeCount fights the autoscaler");
      const n = p.nodeConfig;
      if (n?.workloadMetadataConfig?.mode !== "GKE_METADATA")
        report("nodes must use the GKE metadata server");
      if (!n?.shieldedInstanceConfig?.enableSecureBoot) report("nodes must use secure boot");
      if (!n?.serviceAccount) report("nodes must run as a dedicated service account");
    }),
  },
  {
    name: "redis-standard-replicas-auth-tls",
    description:
      "Memorystore is Standard tier with read replicas, AUTH and in-transit TLS, on private service access.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.redis.Instance, (r, _args, report) => {
      if (r.tier !== "STANDARD_HA") report("tier must be STANDARD_HA");
      if (r.readReplicasMode !== "READ_REPLICAS_ENABLED") report("read replicas must be enabled");
      if (!r.replicaCount || r.replicaCount < 1) report("at least one replica is required");
      if (!r.authEnabled) report("AUTH must be enabled");
      if (r.transitEncryptionMode !== "SERVER_AUTHENTICATION") report("in-transit TLS must be on");
      if (r.connectMode !== "PRIVATE_SERVICE_ACCESS") report("must use private service access");
      if (r.persistenceConfig?.persistenceMode !== "RDB") report("RDB persistence must be on");
    }),
  },
  {
    name: "no-public-ip-on-vms",
    description:
      "No VM or instance template has an external address; traffic enters through load balancers.",
    enforcementLevel: "mandatory",
    validateResource: [
      validateResourceOfType(gcp.compute.InstanceTemplate, (t, _args, report) => {
        for (const nic of t.networkInterfaces ?? [])
          if ((nic.accessConfigs ?? []).length > 0)
            report("instance template has an external access config");
      }),
      validateResourceOfType(gcp.compute.Instance, (i, _args, report) => {
        for (const nic of i.networkInterfaces ?? [])
          if ((nic.accessConfigs ?? []).length > 0)
            report("instance has an external access config");
      }),
    ],
  },
  {
    name: "world-open-firewall",
    description:
      "Only the directory port (tcp/64), and on swarm VMs one atServer port range, are open to 0.0.0.0/0.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.compute.Firewall, (f, _args, report) => {
      if ((f.direction ?? "INGRESS") !== "INGRESS") return;
      if (!(f.sourceRanges ?? []).includes("0.0.0.0/0")) return;
      const swarmOnly =
        (f.targetTags ?? []).length > 0 &&
        (f.targetTags ?? []).every((t) => SWARM_WORKER_TAG.test(t));
      for (const allow of f.allows ?? []) {
        const ports = allow.ports ?? [];
        if (allow.protocol !== "tcp" || ports.length === 0) {
          report(`opens ${allow.protocol}${ports.length ? "" : " (all ports)"} to the world`);
          continue;
        }
        const rootOnly = ports.length === 1 && ports[0] === ROOT_PORT;
        const atServerRange = swarmOnly && ports.length === 1 && /^\d+-\d+$/.test(ports[0]!);
        if (!rootOnly && !atServerRange) report(`opens tcp ${ports.join(",")} to the world`);
      }
      if (!f.targetTags?.length && !f.targetServiceAccounts?.length)
        report("world-open rule must target tagged VMs");
    }),
  },
  {
    name: "mig-auto-healing",
    description:
      "Every managed instance group (swarm managers and workers) heals itself through a health check.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(
      gcp.compute.RegionInstanceGroupManager,
      (m, _args, report) => {
        if (!m.autoHealingPolicies?.healthCheck) report("auto-healing health check missing");
        if ((m.distributionPolicyZones ?? []).length < 3)
          report("instances must spread over three zones");
      },
    ),
  },
  {
    name: "lb-exact-ports",
    description:
      "External forwarding rules name their ports (no allPorts); internal ones are not globally reachable.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.compute.ForwardingRule, (r, _args, report) => {
      if (r.allPorts) report("allPorts forwards every port; name the range");
      if (r.loadBalancingScheme === "INTERNAL" && r.allowGlobalAccess)
        report("internal LB must stay regional");
    }),
  },
  {
    name: "k8s-workload-hardening",
    description:
      "Deployments and StatefulSets run as non-root with a read-only root filesystem, no privilege escalation, resource requests and both probes.",
    enforcementLevel: "mandatory",
    validateResource: [
      validateResourceOfType(k8s.apps.v1.Deployment, (d, _args, report) => {
        if (d.spec?.replicas !== undefined)
          report("replicas belongs to the HPA, not the Deployment");
        checkPod(d.spec?.template?.spec, report);
      }),
      validateResourceOfType(k8s.apps.v1.StatefulSet, (s, _args, report) =>
        checkPod(s.spec?.template?.spec, report),
      ),
    ],
  },
  {
    name: "k8s-lb-preserves-client-ip",
    description:
      "External LoadBalancer Services keep client source IPs (externalTrafficPolicy Local).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(k8s.core.v1.Service, (s, _args, report) => {
      if (s.spec?.type !== "LoadBalancer") return;
      const internal =
        s.metadata?.annotations?.["networking.gke.io/load-balancer-type"] === "Internal";
      if (!internal && s.spec.externalTrafficPolicy !== "Local")
        report("externalTrafficPolicy must be Local");
    }),
  },
];

/** The pod-level hardening every platform workload shares. */
function checkPod(pod: any, report: (message: string) => void): void {
  if (!pod?.securityContext?.runAsNonRoot) report("pods must run as non-root");
  for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
    if (!c.securityContext?.readOnlyRootFilesystem)
      report(`${c.name}: root filesystem must be read-only`);
    if (c.securityContext?.allowPrivilegeEscalation !== false)
      report(`${c.name}: privilege escalation allowed`);
    if (!c.resources?.requests) report(`${c.name}: resource requests missing`);
    // Binary Authorization admits by repository; the digest is what makes a rollout exact.
    if (typeof c.image === "string" && !/@sha256:[a-f0-9]{64}$/.test(c.image))
      report(`${c.name}: image ${c.image} is not pinned by digest`);
  }
  for (const c of pod?.containers ?? [])
    if (!c.readinessProbe || !c.livenessProbe)
      report(`${c.name}: readiness and liveness probes required`);
}
