// One test per invariant of the directory tier (issue 2), each over the dev and prod stacks.
import { expect } from "chai";
import { DIRECTORY_PORT } from "../../components/directory-service";
import { secretAt, type Recorded } from "./mocks";
import { buildStack } from "./stack";

const CLUSTER = "gcp:container/cluster:Cluster";
const K8S_TYPES = /^kubernetes:/;

for (const env of ["dev", "prod"]) {
  describe(`components: directory tier (${env})`, () => {
    const get = () => buildStack(env);

    it("GKE clusters are regional over three zones, private, with Workload Identity and shielded nodes", async () => {
      const { rec, cfg } = await get();
      const clusters = rec.all(CLUSTER);
      expect(clusters.map((c) => c.name).sort()).to.deep.equal(["directory", "registrar"]);
      for (const c of clusters) {
        expect(c.inputs.location).to.equal(cfg.region);
        expect(c.inputs.nodeLocations).to.have.length.of.at.least(3).and.deep.equal(cfg.zones);
        expect(c.inputs.privateClusterConfig.enablePrivateNodes).to.equal(true);
        expect(c.inputs.workloadIdentityConfig.workloadPool).to.equal(`${cfg.project}.svc.id.goog`);
        expect(c.inputs.enableShieldedNodes).to.equal(true);
        expect(c.inputs.releaseChannel.channel).to.be.oneOf(["RAPID", "REGULAR", "STABLE"]);
        expect(c.inputs.removeDefaultNodePool).to.equal(true);
        expect(c.inputs.deletionProtection).to.equal(env === "prod");
      }
    });

    it("node pools autoscale within the configured limits, shielded, on the GKE metadata server", async () => {
      const { rec, cfg } = await get();
      const pool = rec.one("gcp:container/nodePool:NodePool", "directory-pool");
      expect(pool.inputs.autoscaling).to.deep.include({
        minNodeCount: cfg.directoryCluster.minNodesPerZone,
        maxNodeCount: cfg.directoryCluster.maxNodesPerZone,
      });
      expect(pool.inputs).to.not.have.property("nodeCount");
      expect(pool.inputs.nodeConfig.workloadMetadataConfig.mode).to.equal("GKE_METADATA");
      expect(pool.inputs.nodeConfig.shieldedInstanceConfig.enableSecureBoot).to.equal(true);
      const registrarPool = rec.one("gcp:container/nodePool:NodePool", "registrar-pool");
      expect(registrarPool.inputs.autoscaling.maxNodeCount).to.equal(
        cfg.registrarCluster.maxNodesPerZone,
      );
    });

    it("Memorystore is Standard tier with read replicas, AUTH, TLS, RDB, on private service access", async () => {
      const { rec, cfg } = await get();
      const r = rec.one("gcp:redis/instance:Instance").inputs;
      expect(r).to.deep.include({
        tier: "STANDARD_HA",
        readReplicasMode: "READ_REPLICAS_ENABLED",
        replicaCount: cfg.redis.replicaCount,
        authEnabled: true,
        transitEncryptionMode: "SERVER_AUTHENTICATION",
        connectMode: "PRIVATE_SERVICE_ACCESS",
      });
      expect(r.persistenceConfig.persistenceMode).to.equal("RDB");
      expect(r.maintenancePolicy.weeklyMaintenanceWindows).to.have.length(1);
      expect(r.replicaCount).to.be.at.least(env === "prod" ? 2 : 1);
    });

    it("the directory reads the read endpoint and cannot reach the primary", async () => {
      const { rec } = await get();
      const dep = rec.one("kubernetes:apps/v1:Deployment");
      const env_ = dep.inputs.spec.template.spec.containers[0].env as {
        name: string;
        value?: string;
      }[];
      const redis = env_.find((e) => e.name === "ATDIRECTORY_REDIS");
      expect(redis?.value).to.equal("rediss://10.60.0.4:6378"); // the mock's readEndpoint
      expect(JSON.stringify(dep.inputs)).to.not.contain("10.60.0.3"); // the mock's primary host
      const deny = rec.one("gcp:compute/firewall:Firewall", "directory-no-primary").inputs;
      expect(deny).to.deep.include({ direction: "EGRESS", destinationRanges: ["10.60.0.3/32"] });
      expect(deny.denies).to.deep.equal([{ protocol: "tcp" }]);
      // The primary's credentials exist only in the registrar's cluster.
      const primary = rec
        .all("kubernetes:core/v1:Secret")
        .filter((s) => JSON.stringify(s.inputs).includes("10.60.0.3"));
      expect(primary.map((s) => s.name)).to.deep.equal(["registrar-redis-primary"]);
      expect(primary[0]!.provider).to.match(/::registrar-k8s::/);
    });

    it("a LoadBalancer Service on TCP 64 behind a reserved IP keeps client IPs, published as root.<domain>", async () => {
      const { rec, cfg, out } = await get();
      const svc = rec.one("kubernetes:core/v1:Service", "atdirectory").inputs;
      expect(svc.spec.type).to.equal("LoadBalancer");
      expect(svc.spec.ports).to.deep.equal([
        { name: "atdirectory", port: DIRECTORY_PORT, targetPort: "atdirectory", protocol: "TCP" },
      ]);
      expect(svc.spec.externalTrafficPolicy).to.equal("Local");
      const ip = rec.one("gcp:compute/address:Address", "atdirectory-ip").inputs;
      expect(ip.addressType).to.equal("EXTERNAL");
      expect(svc.spec.loadBalancerIP).to.equal("34.1.2.3");
      const record = rec.one("gcp:dns/recordSet:RecordSet", "atdirectory-root").inputs;
      expect(record).to.deep.include({
        name: `root.${cfg.domain}.`,
        type: "A",
        rrdatas: ["34.1.2.3"],
      });
      expect(record.managedZone).to.equal(
        rec.one("gcp:dns/managedZone:ManagedZone", "platform").name,
      );
      expect(out.rootAddress).to.equal(`root.${cfg.domain}:64`);
    });

    it("an HPA (autoscaling/v2) and a PDB cover the Deployment, which leaves replicas to the HPA", async () => {
      const { rec, cfg } = await get();
      const hpa = rec.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs;
      const dep = rec.one("kubernetes:apps/v1:Deployment").inputs;
      expect(hpa.spec.scaleTargetRef).to.deep.equal({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: dep.metadata.name ?? "atdirectory-abc123",
      });
      expect(hpa.spec.minReplicas).to.equal(cfg.directory.minReplicas);
      expect(hpa.spec.maxReplicas).to.equal(cfg.directory.maxReplicas);
      expect(dep.spec).to.not.have.property("replicas");
      const pdb = rec.one("kubernetes:policy/v1:PodDisruptionBudget").inputs;
      expect(pdb.spec.selector.matchLabels).to.deep.equal(dep.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable).to.equal(1);
    });

    it("directory pods are non-root, read-only, limited, probed and spread over zones", async () => {
      const { rec } = await get();
      const pod = rec.one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec;
      const c = pod.containers[0];
      expect(pod.securityContext.runAsNonRoot).to.equal(true);
      expect(c.securityContext).to.deep.include({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(c.resources.requests).to.have.keys("cpu", "memory");
      expect(c.resources.limits).to.have.key("memory");
      expect(c.readinessProbe.httpGet.path).to.equal("/readyz");
      expect(c.livenessProbe.httpGet.path).to.equal("/healthz");
      expect(pod.topologySpreadConstraints[0].topologyKey).to.equal("topology.kubernetes.io/zone");
      const names = (c.env as { name: string }[]).map((e) => e.name).sort();
      expect(names).to.deep.equal([
        "ATDIRECTORY_CERT",
        "ATDIRECTORY_HTTP_PORT",
        "ATDIRECTORY_KEY",
        "ATDIRECTORY_PORT",
        "ATDIRECTORY_REDIS",
        "ATDIRECTORY_REDIS_CA",
        "ATDIRECTORY_REDIS_PASSWORD",
      ]);
    });

    it("every Kubernetes resource goes through an explicit provider for its cluster", async () => {
      const { rec } = await get();
      const k8s = rec.resources.filter((r) => K8S_TYPES.test(r.type));
      expect(k8s.length).to.be.greaterThan(5);
      for (const r of k8s)
        expect(r.provider, `${r.type} ${r.name}`).to.match(/::(directory|registrar)-k8s::/);
      const directory = k8s
        .filter((r) => r.provider?.includes("::directory-k8s::"))
        .map((r) => r.type);
      expect(directory).to.include.members([
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
      ]);
    });

    it("no node or VM has a public IP", async () => {
      const { rec } = await get();
      for (const c of rec.all(CLUSTER))
        expect(c.inputs.privateClusterConfig.enablePrivateNodes).to.equal(true);
      for (const t of rec.all("gcp:compute/instanceTemplate:InstanceTemplate"))
        for (const nic of t.inputs.networkInterfaces)
          expect(nic.accessConfigs ?? [], t.name).to.deep.equal([]);
      expect(rec.all("gcp:compute/instance:Instance")).to.deep.equal([]);
      // External addresses exist only for load balancers.
      const external = rec
        .all("gcp:compute/address:Address")
        .filter((a) => a.inputs.addressType === "EXTERNAL");
      for (const a of external) expect(a.name).to.match(/-ip$|-lb-ip$/);
    });

    it("no firewall rule opens anything but the directory port to the world (swarm ranges aside)", async () => {
      const { rec } = await get();
      const open = rec
        .all("gcp:compute/firewall:Firewall")
        .filter((f) => (f.inputs.sourceRanges ?? []).includes("0.0.0.0/0"));
      expect(open.length).to.be.greaterThan(0);
      for (const f of open) {
        expect(f.inputs.direction).to.equal("INGRESS");
        if (f.name === "directory-public") {
          expect(f.inputs.allows).to.deep.equal([{ protocol: "tcp", ports: ["64"] }]);
          continue;
        }
        assertSwarmRange(f);
      }
    });

    it("secrets are secret outputs and secret in every resource that carries them", async () => {
      const { rec, out } = await get();
      // The AUTH string is no stack output: it lives only in the clusters' Secrets.
      expect(out).to.not.have.property("redisAuth");
      const redis = rec.one("kubernetes:core/v1:Secret", "atdirectory-redis");
      expect(secretAt(redis.rawInputs, ["stringData", "password"])).to.equal(true);
      const tlsSecret = rec.one("kubernetes:core/v1:Secret", "atdirectory-tls");
      expect(secretAt(tlsSecret.rawInputs, ["stringData", "tls.key"])).to.equal(true);
      const reg = rec.one("kubernetes:core/v1:Secret", "registrar-redis-primary");
      expect(secretAt(reg.rawInputs, ["stringData", "password"])).to.equal(true);
      // The password reaches the container only by reference, never as a literal.
      const dep = rec.one("kubernetes:apps/v1:Deployment");
      expect(JSON.stringify(dep.inputs)).to.not.contain("mock-redis-auth");
    });

    it("root TLS: a private CA in dev, the secret-config certificate in prod", async () => {
      const { rec, out } = await get();
      const cas = rec
        .all("tls:index/selfSignedCert:SelfSignedCert")
        .filter((c) => c.name === "root-ca-cert");
      if (env === "dev") {
        expect(cas).to.have.length(1);
        expect(cas[0]!.inputs.isCaCertificate).to.equal(true);
        const csr = rec.one("tls:index/certRequest:CertRequest", "root-tls-csr").inputs;
        expect(csr.dnsNames).to.deep.equal(["root.dev.atplatform.example"]);
        expect(out.rootCaPem).to.not.equal(undefined);
      } else {
        expect(cas).to.have.length(0);
        expect(out.rootCaPem).to.equal(undefined);
        const tlsSecret = rec.one("kubernetes:core/v1:Secret", "atdirectory-tls").inputs;
        expect(tlsSecret.stringData["tls.crt"]).to.contain("MIIBfake");
      }
    });
  });
}

/** A world-open rule other than the directory's: one tcp port range, on swarm VMs only. */
function assertSwarmRange(f: Recorded): void {
  expect(f.inputs.targetTags, f.name).to.satisfy((tags: string[]) =>
    tags.every((t) => t.startsWith("atp-swarm-")),
  );
  expect(f.inputs.allows, f.name).to.have.length(1);
  expect(f.inputs.allows[0].protocol, f.name).to.equal("tcp");
  expect(f.inputs.allows[0].ports, f.name)
    .to.have.length(1)
    .and.satisfy((p: string[]) => /^\d+-\d+$/.test(p[0]!));
}

for (const env of ["dev", "prod"]) {
  describe(`components: first up and destroy hygiene (${env})`, () => {
    it("GKE's temporary default pool runs as the cluster's node account, not the Compute Engine default", async () => {
      const { rec } = await buildStack(env);
      for (const c of rec.all("gcp:container/cluster:Cluster"))
        expect(c.inputs.nodeConfig?.serviceAccount, c.name).to.equal(
          `${c.name}-nodes@test-proj.iam.gserviceaccount.com`,
        );
    });

    it("the private service access peering is abandoned, not deleted, on destroy", async () => {
      const { rec } = await buildStack(env);
      expect(rec.one("gcp:servicenetworking/connection:Connection").inputs.deletionPolicy).to.equal(
        "ABANDON",
      );
    });
  });
}
