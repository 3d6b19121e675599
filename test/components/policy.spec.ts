import { expect } from "chai";
import { policies } from "../../policy/policies";
import type { Recorded } from "./mocks";
import { runPolicies } from "./policy-harness";
import { buildStack } from "./stack";

const clone = <T>(v: T): T => structuredClone(v);

describe("components: policy pack (offline)", () => {
  for (const env of ["dev", "prod"]) {
    it(`the ${env} stack passes every policy`, async () => {
      const { rec } = await buildStack(env);
      expect(runPolicies(policies, rec.resources)).to.deep.equal([]);
    });
  }

  it("each policy flags a resource that breaks it", async () => {
    const { rec } = await buildStack("dev");
    const mutate = (type: string, name: string | undefined, change: (i: any) => void): Recorded => {
      const r = clone(rec.one(type, name));
      change(r.inputs);
      return r;
    };
    const broken: [string, Recorded][] = [
      [
        "gke-regional-private-wi",
        mutate(
          "gcp:container/cluster:Cluster",
          "directory",
          (i) => (i.privateClusterConfig.enablePrivateNodes = false),
        ),
      ],
      [
        "gke-regional-private-wi",
        mutate(
          "gcp:container/cluster:Cluster",
          "directory",
          (i) => (i.location = "europe-west2-a"),
        ),
      ],
      [
        "gke-nodepool-autoscaled-hardened",
        mutate("gcp:container/nodePool:NodePool", "directory-pool", (i) => delete i.autoscaling),
      ],
      [
        "redis-standard-replicas-auth-tls",
        mutate("gcp:redis/instance:Instance", undefined, (i) => (i.tier = "BASIC")),
      ],
      [
        "redis-standard-replicas-auth-tls",
        mutate(
          "gcp:redis/instance:Instance",
          undefined,
          (i) => (i.transitEncryptionMode = "DISABLED"),
        ),
      ],
      [
        "world-open-firewall",
        mutate("gcp:compute/firewall:Firewall", "directory-public", (i) =>
          i.allows.push({ protocol: "tcp", ports: ["22"] }),
        ),
      ],
      [
        "world-open-firewall",
        mutate(
          "gcp:compute/firewall:Firewall",
          "atplatform-iap-ssh",
          (i) => (i.sourceRanges = ["0.0.0.0/0"]),
        ),
      ],
      [
        "k8s-workload-hardening",
        mutate("kubernetes:apps/v1:Deployment", undefined, (i) => (i.spec.replicas = 3)),
      ],
      [
        "k8s-workload-hardening",
        mutate(
          "kubernetes:apps/v1:StatefulSet",
          undefined,
          (i) =>
            (i.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false),
        ),
      ],
      [
        "k8s-workload-hardening",
        mutate(
          "kubernetes:apps/v1:Deployment",
          undefined,
          (i) => (i.spec.template.spec.containers[0].image = "example.org/directory:latest"),
        ),
      ],
      [
        "k8s-lb-preserves-client-ip",
        mutate(
          "kubernetes:core/v1:Service",
          "atdirectory",
          (i) => (i.spec.externalTrafficPolicy = "Cluster"),
        ),
      ],
      [
        "mig-auto-healing",
        mutate(
          "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
          "swarm1-workers",
          (i) => delete i.autoHealingPolicies,
        ),
      ],
      [
        "lb-exact-ports",
        mutate("gcp:compute/forwardingRule:ForwardingRule", "swarm1-atservers", (i) => {
          delete i.portRange;
          i.allPorts = true;
        }),
      ],
      [
        "lb-exact-ports",
        mutate(
          "gcp:compute/forwardingRule:ForwardingRule",
          "swarm1-docker",
          (i) => (i.allowGlobalAccess = true),
        ),
      ],
      [
        "world-open-firewall",
        mutate(
          "gcp:compute/firewall:Firewall",
          "swarm1-atservers",
          (i) => (i.targetTags = ["atp-swarm-swarm1-manager"]),
        ),
      ],
      [
        "no-public-ip-on-vms",
        mutate(
          "gcp:compute/instanceTemplate:InstanceTemplate",
          "swarm1-worker",
          (i) => (i.networkInterfaces[0].accessConfigs = [{}]),
        ),
      ],
      [
        "no-public-ip-on-vms",
        {
          type: "gcp:compute/instanceTemplate:InstanceTemplate",
          name: "vm",
          rawInputs: {},
          inputs: { networkInterfaces: [{ subnetwork: "s", accessConfigs: [{}] }] },
          custom: true,
        },
      ],
    ];
    for (const [policy, resource] of broken) {
      const found = runPolicies(policies, [resource]).map((v) => v.policy);
      expect(found, `${policy} on ${resource.name}`).to.include(policy);
    }
  });
});
