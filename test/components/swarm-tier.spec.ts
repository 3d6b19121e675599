// One test per invariant of the atServer tier (issue 7), over the dev and prod stacks.
import { expect } from "chai";
import { ADDRESS_PLAN, IAP_RANGE } from "../../components/network";
import { secretAt, type Recorded } from "./mocks";
import { buildStack, type BuiltStack } from "./stack";

const RIGM = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const FIREWALL = "gcp:compute/firewall:Firewall";

function script(s: BuiltStack, swarm: string, role: "manager" | "worker"): string {
  return s.rec.one(TEMPLATE, `${swarm}-${role}`).inputs.metadata["startup-script"] as string;
}

function allowsPort(f: Recorded, port: number): boolean {
  return (f.inputs.allows ?? []).some(
    (a: { protocol: string; ports?: string[] }) =>
      (a.protocol === "tcp" || a.protocol === "all") &&
      (!a.ports ||
        a.ports.some((p) => {
          const [lo, hi] = p.split("-").map(Number);
          return port >= lo! && port <= (hi ?? lo!);
        })),
  );
}

for (const env of ["dev", "prod"]) {
  describe(`components: atServer tier (${env})`, () => {
    const get = () => buildStack(env);

    it("each configured swarm has three managers, one per zone, with pinned IPs and disks", async () => {
      const s = await get();
      expect(s.cfg.swarms.length).to.be.greaterThan(0);
      for (const sw of s.cfg.swarms) {
        const m = s.rec.one(RIGM, `${sw.name}-managers`).inputs;
        // The per-instance configs make the three managers (gcp-api.spec.ts counts them).
        expect(m).to.not.have.property("targetSize");
        expect(m.distributionPolicyZones).to.have.length(3);
        expect(new Set(m.distributionPolicyZones).size).to.equal(3);
        expect(m.distributionPolicyTargetShape).to.equal("EVEN");
        expect(m.statefulDisks).to.deep.equal([{ deviceName: "boot", deleteRule: "NEVER" }]);
        expect(m.statefulInternalIps[0].deleteRule).to.equal("NEVER");
        expect(m.updatePolicy).to.deep.include({
          type: "OPPORTUNISTIC",
          replacementMethod: "RECREATE",
          maxSurgeFixed: 0,
        });
        expect(m.autoHealingPolicies.healthCheck).to.equal(`${sw.name}-manager-hc_id`);
        const pins = s.rec
          .all("gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig")
          .filter((p) => p.name.startsWith(`${sw.name}-mgr-`));
        expect(pins.map((p) => p.inputs.name)).to.deep.equal(
          [0, 1, 2].map((i) => `${sw.name}-mgr-${i}`),
        );
        for (const p of pins)
          expect(p.inputs.preservedState.internalIps[0].ipAddress.address).to.equal(
            `addresses/${p.name}`,
          );
      }
    });

    it("workers are autoscaled on CPU and memory within the configured bounds, and auto-healed", async () => {
      const s = await get();
      for (const sw of s.cfg.swarms) {
        const w = s.rec.one(RIGM, `${sw.name}-workers`);
        expect(w.inputs).to.not.have.property("targetSize");
        expect(w.inputs.autoHealingPolicies.healthCheck).to.equal(`${sw.name}-worker-hc_id`);
        const hc = s.rec.one("gcp:compute/healthCheck:HealthCheck", `${sw.name}-worker-hc`).inputs;
        expect(hc.tcpHealthCheck.port).to.equal(7946);
        const as = s.rec.one(
          "gcp:compute/regionAutoscaler:RegionAutoscaler",
          `${sw.name}-workers`,
        ).inputs;
        expect(as.target).to.equal(`${sw.name}-workers_id`);
        expect(as.autoscalingPolicy).to.deep.include({
          minReplicas: sw.minWorkers,
          maxReplicas: sw.maxWorkers,
        });
        expect(as.autoscalingPolicy.cpuUtilization.target).to.be.within(0.1, 0.9);
        expect(as.autoscalingPolicy.metrics[0].name).to.equal(
          "agent.googleapis.com/memory/percent_used",
        );
      }
    });

    it("Filestore (tier and capacity from config) is exported to the swarm subnet and mounted by the startup script", async () => {
      const s = await get();
      const fs = s.rec.one("gcp:filestore/instance:Instance").inputs;
      expect(fs.tier).to.equal(s.cfg.filestore.tier);
      expect(fs.fileShares.capacityGb).to.equal(s.cfg.filestore.capacityGb);
      expect(fs.fileShares.nfsExportOptions).to.deep.equal([
        {
          ipRanges: [ADDRESS_PLAN.swarm.nodes],
          accessMode: "READ_WRITE",
          squashMode: "NO_ROOT_SQUASH",
        },
      ]);
      expect(fs.networks[0].connectMode).to.equal("PRIVATE_SERVICE_ACCESS");
      for (const sw of s.cfg.swarms)
        for (const role of ["manager", "worker"] as const) {
          const text = script(s, sw.name, role);
          expect(text).to.contain("ATP_NFS_SERVER='10.60.8.2'"); // the mock's Filestore IP
          expect(text).to.contain("ATP_NFS_SHARE='atservers'");
          expect(text).to.contain("ATP_NFS_MOUNT='/srv/atplatform'");
        }
      // Backups: the first swarm's manager 0 runs them with a backup-only custom role.
      expect(script(s, s.cfg.swarms[0]!.name, "manager")).to.match(
        /ATP_BACKUP_INSTANCE='atservers'/,
      );
      expect(script(s, s.cfg.swarms[0]!.name, "worker")).to.contain("ATP_BACKUP_INSTANCE=''");
      const role = s.rec.one(
        "gcp:projects/iAMCustomRole:IAMCustomRole",
        "atservers-backup-role",
      ).inputs;
      expect(role.permissions)
        .to.include("file.backups.create")
        .and.not.include("file.instances.delete");
    });

    it("each swarm's external LB covers exactly its configured port range, on the workers", async () => {
      const s = await get();
      for (const sw of s.cfg.swarms) {
        const range = `${sw.firstPort}-${sw.lastPort}`;
        const fr = s.rec.one(
          "gcp:compute/forwardingRule:ForwardingRule",
          `${sw.name}-atservers`,
        ).inputs;
        expect(fr).to.deep.include({
          loadBalancingScheme: "EXTERNAL",
          ipProtocol: "TCP",
          portRange: range,
        });
        expect(fr).to.not.have.property("allPorts");
        const be = s.rec.one(
          "gcp:compute/regionBackendService:RegionBackendService",
          `${sw.name}-atservers`,
        ).inputs;
        expect(be.backends.map((b: { group: string }) => b.group)).to.deep.equal([
          `instanceGroups/${sw.name}-workers`,
        ]);
        const fw = s.rec.one(FIREWALL, `${sw.name}-atservers`).inputs;
        expect(fw.allows).to.deep.equal([{ protocol: "tcp", ports: [range] }]);
        expect(fw.targetTags).to.deep.equal([`atp-swarm-${sw.name}-worker`]);
        const records = s.rec
          .all("gcp:dns/recordSet:RecordSet")
          .filter((r) => r.name.startsWith(`${sw.name}-`) && r.inputs.type === "A");
        expect(records.map((r) => r.inputs.name).sort()).to.deep.equal(
          [`*.${sw.name}.${s.cfg.domain}.`, `${sw.name}.${s.cfg.domain}.`].sort(),
        );
      }
    });

    it("the Docker Engine API (2376) is reachable only from the registrar's cluster, over an internal LB", async () => {
      const s = await get();
      // Every ingress rule that applies to manager VMs (no target tags = every VM) and allows 2376.
      const onManagers = (f: Recorded) =>
        !f.inputs.targetTags?.length ||
        f.inputs.targetTags.some((t: string) => /^atp-swarm-.+-manager$/.test(t));
      const open = s.rec
        .all(FIREWALL)
        .filter(
          (f) =>
            (f.inputs.direction ?? "INGRESS") === "INGRESS" && onManagers(f) && allowsPort(f, 2376),
        );
      expect(open.map((f) => f.name).sort()).to.deep.equal(
        s.cfg.swarms.map((sw) => `${sw.name}-docker-api`).sort(),
      );
      for (const f of open) {
        // The registrar, and the operator's IAP tunnel for the second step of `up`.
        expect(f.inputs.sourceRanges).to.deep.equal([
          ADDRESS_PLAN.registrar.nodes,
          ADDRESS_PLAN.registrar.pods,
          IAP_RANGE,
        ]);
        expect(f.inputs.targetTags[0]).to.match(/^atp-swarm-.+-manager$/);
        expect(f.inputs).to.not.have.property("sourceTags");
      }
      for (const sw of s.cfg.swarms) {
        const fr = s.rec.one(
          "gcp:compute/forwardingRule:ForwardingRule",
          `${sw.name}-docker`,
        ).inputs;
        expect(fr).to.deep.include({
          loadBalancingScheme: "INTERNAL",
          ports: ["2376"],
          allowGlobalAccess: false,
        });
        const secret = s.rec.one("kubernetes:core/v1:Secret", `${sw.name}-registrar`);
        expect(secret.provider).to.match(/::registrar-k8s::/);
        expect(secret.inputs.stringData.DOCKER_HOST).to.equal(`tcp://${fr.ipAddress}:2376`);
        expect(secretAt(secret.rawInputs, ["stringData", "key.pem"])).to.equal(true);
        // Client certificate and key also kept in Secret Manager, readable by no swarm VM.
        for (const part of ["cert", "key"]) {
          const id = `${sw.name}-registrar-client-${part}`;
          const version = s.rec.one("gcp:secretmanager/secretVersion:SecretVersion", id);
          expect(version.inputs.secret).to.equal(`${id}_id`);
          expect(secretAt(version.rawInputs, ["secretData"])).to.equal(true);
          const readers = s.rec
            .all("gcp:secretmanager/secretIamMember:SecretIamMember")
            .filter((m) => m.name.startsWith(`${id}-`));
          expect(readers).to.deep.equal([]);
        }
        // The managers' server certificate names the addresses the registrar dials.
        const csr = s.rec.one(
          "tls:index/certRequest:CertRequest",
          `${sw.name}-docker-server-csr`,
        ).inputs;
        expect(csr.ipAddresses).to.include(fr.ipAddress);
      }
    });

    it("workers run the script's leave step when GCE stops them; managers do not", async () => {
      const s = await get();
      for (const sw of s.cfg.swarms) {
        const meta = (role: string) => s.rec.one(TEMPLATE, `${sw.name}-${role}`).inputs.metadata;
        expect(meta("worker")["shutdown-script"]).to.equal(
          "#!/bin/bash\n/usr/local/sbin/atplatform-swarm leave\n",
        );
        expect(meta("manager")).to.not.have.property("shutdown-script");
        expect(script(s, sw.name, "worker")).to.contain(
          'readonly SELF="/usr/local/sbin/atplatform-swarm"',
        );
      }
    });

    it("no swarm VM has a public IP", async () => {
      const s = await get();
      const templates = s.rec.all(TEMPLATE);
      expect(templates).to.have.length(2 * s.cfg.swarms.length);
      for (const t of templates) {
        expect(t.inputs.networkInterfaces).to.have.length(1);
        expect(t.inputs.networkInterfaces[0]).to.not.have.property("accessConfigs");
        expect(t.inputs.networkInterfaces[0]).to.not.have.property("ipv6AccessConfigs");
      }
    });

    it("join tokens live only in Secret Manager: empty secrets, narrow IAM, nothing in metadata", async () => {
      const s = await get();
      for (const sw of s.cfg.swarms) {
        for (const kind of ["manager", "worker"]) {
          const id = `${sw.name}-${kind}-token`;
          expect(s.rec.one("gcp:secretmanager/secret:Secret", id).inputs.secretId).to.equal(id);
          expect(
            s.rec.all("gcp:secretmanager/secretVersion:SecretVersion").filter((v) => v.name === id),
          ).to.deep.equal([]);
        }
        const iam = s.rec
          .all("gcp:secretmanager/secretIamMember:SecretIamMember")
          .filter(
            (m) =>
              m.name.startsWith(`${sw.name}-manager-token-`) ||
              m.name.startsWith(`${sw.name}-worker-token-`),
          )
          .map((m) => `${m.name} ${m.inputs.member.split("@")[0]}`);
        expect(iam.sort()).to.deep.equal(
          [
            `${sw.name}-manager-token-managers-secretAccessor serviceAccount:${sw.name}-managers`,
            `${sw.name}-manager-token-managers-secretVersionAdder serviceAccount:${sw.name}-managers`,
            `${sw.name}-worker-token-managers-secretAccessor serviceAccount:${sw.name}-managers`,
            `${sw.name}-worker-token-managers-secretVersionAdder serviceAccount:${sw.name}-managers`,
            `${sw.name}-worker-token-workers-secretAccessor serviceAccount:${sw.name}-workers`,
          ].sort(),
        );
        for (const role of ["manager", "worker"] as const)
          expect(script(s, sw.name, role)).to.not.match(/SWMTKN-1-[a-z0-9]/);
      }
      for (const r of s.rec.resources)
        expect(JSON.stringify(r.inputs), r.name).to.not.match(/SWMTKN-1-[a-z0-9]/);
    });

    it("every private key and password is secret wherever the stack stores it", async () => {
      const s = await get();
      const versions = s.rec.all("gcp:secretmanager/secretVersion:SecretVersion");
      const keyVersions = versions.filter((v) => /-key$/.test(v.name));
      expect(keyVersions.length).to.be.at.least(2 * s.cfg.swarms.length);
      for (const v of keyVersions)
        expect(secretAt(v.rawInputs, ["secretData"]), v.name).to.equal(true);
      for (const sec of s.rec.all("kubernetes:core/v1:Secret")) {
        for (const field of Object.keys(sec.inputs.stringData ?? {}))
          if (/key|password/.test(field))
            expect(secretAt(sec.rawInputs, ["stringData", field]), `${sec.name}.${field}`).to.equal(
              true,
            );
      }
      for (const k of s.rec.all("tls:index/locallySignedCert:LocallySignedCert"))
        expect(secretAt(k.rawInputs, ["caPrivateKeyPem"]), k.name).to.equal(true);
    });

    it("wildcard certificates: stack-signed in dev, ACME on the swarm in prod", async () => {
      const s = await get();
      for (const sw of s.cfg.swarms) {
        const versions = s.rec
          .all("gcp:secretmanager/secretVersion:SecretVersion")
          .filter((v) => v.name.startsWith(`${sw.name}-tls-`));
        const zoneIam = s.rec
          .all("gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember")
          .filter((m) => m.name === `${sw.name}-acme-dns`);
        if (s.cfg.swarmTls.mode === "private-ca") {
          expect(versions.map((v) => v.name).sort()).to.deep.equal([
            `${sw.name}-tls-cert`,
            `${sw.name}-tls-key`,
          ]);
          expect(
            secretAt(versions.find((v) => v.name.endsWith("-key"))!.rawInputs, ["secretData"]),
          ).to.equal(true);
          const csr = s.rec.one(
            "tls:index/certRequest:CertRequest",
            `${sw.name}-wildcard-csr`,
          ).inputs;
          expect(csr.dnsNames).to.deep.equal([
            `*.${sw.name}.${s.cfg.domain}`,
            `${sw.name}.${s.cfg.domain}`,
          ]);
          expect(zoneIam).to.have.length(0);
        } else {
          expect(versions).to.have.length(0);
          expect(zoneIam).to.have.length(1);
          expect(script(s, sw.name, "manager")).to.contain("ATP_TLS_MODE='acme'");
          expect(script(s, sw.name, "manager")).to.contain(
            "ATP_ACME_EMAIL='ops@atplatform.example'",
          );
        }
      }
    });
  });
}

for (const env of ["dev", "prod"]) {
  describe(`components: swarm bootstrap and images (${env})`, () => {
    it("B2: each swarm's nodes pre-pull the atServer image by digest from a list only its VMs read, and the storage jobs run that image", async () => {
      const s = await buildStack(env);
      const file = JSON.parse(
        s.rec.one("kubernetes:core/v1:Secret", "registrar-swarms").inputs.stringData["swarms.json"],
      );
      for (const sw of s.cfg.swarms) {
        const atServer = file.swarms[sw.name].image as string;
        const list = s.rec.one(
          "gcp:secretmanager/secretVersion:SecretVersion",
          `${sw.name}-images`,
        );
        const digest = atServer.replace(/:[\w.-]+@/, "@");
        expect(list.inputs.secretData).to.equal(digest);
        expect(digest).to.match(/^[a-z0-9-]+-docker\.pkg\.dev\/[^@]+@sha256:[a-f0-9]{64}$/);
        expect(file.jobImage).to.equal(atServer);
        const readers = s.rec
          .all("gcp:secretmanager/secretIamMember:SecretIamMember")
          .filter((m) => m.name.startsWith(`${sw.name}-images-`))
          .map((m) => `${m.inputs.role} ${m.inputs.member.split("@")[0]}`);
        expect(readers.sort()).to.deep.equal([
          `roles/secretmanager.secretAccessor serviceAccount:${sw.name}-managers`,
          `roles/secretmanager.secretAccessor serviceAccount:${sw.name}-workers`,
        ]);
        for (const role of ["manager", "worker"] as const)
          expect(script(s, sw.name, role)).to.contain(`ATP_IMAGES_SECRET='${sw.name}-images'`);
      }
    });

    it("15: the VMs are created only after their secret versions, the IAM grants they use and Cloud NAT", async () => {
      const s = await buildStack(env);
      for (const sw of s.cfg.swarms) {
        const versions = s.rec
          .all("gcp:secretmanager/secretVersion:SecretVersion")
          .filter((v) => v.name.startsWith(`${sw.name}-`) && !v.name.includes("registrar-client"))
          .map((v) => v.name);
        const grants = s.rec
          .all("gcp:secretmanager/secretIamMember:SecretIamMember")
          .filter((m) => m.name.startsWith(`${sw.name}-`))
          .map((m) => m.name);
        const want = [
          ...versions,
          ...grants,
          `${sw.name}-managers-pull`,
          `${sw.name}-workers-pull`,
          "atplatform-nat",
        ];
        expect(versions).to.include(`${sw.name}-images`);
        for (const [type, name] of [
          [RIGM, `${sw.name}-managers`],
          [RIGM, `${sw.name}-workers`],
          ...[0, 1, 2].map((i) => [
            "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig",
            `${sw.name}-mgr-${i}`,
          ]),
        ] as [string, string][])
          expect(s.rec.dependsOn(type, name), name).to.include.members(want);
      }
    });
  });
}

for (const env of ["dev", "prod"]) {
  describe(`components: swarm DNS rights (${env})`, () => {
    it("9: a compromised swarm manager cannot repoint root.<domain>: its DNS rights end at its own delegated zone", async () => {
      const s = await buildStack(env);
      const platformZone = s.rec.one("gcp:dns/managedZone:ManagedZone", "platform");
      const root = s.rec.one("gcp:dns/recordSet:RecordSet", "atdirectory-root").inputs;
      expect(root.managedZone).to.equal("platform");
      for (const sw of s.cfg.swarms) {
        const zone = s.rec.one("gcp:dns/managedZone:ManagedZone", `${sw.name}-zone`);
        expect(zone.inputs.dnsName).to.equal(`${sw.name}.${s.cfg.domain}.`);
        const ns = s.rec.one("gcp:dns/recordSet:RecordSet", `${sw.name}-delegation`).inputs;
        expect(ns).to.deep.include({
          managedZone: "platform",
          type: "NS",
          name: zone.inputs.dnsName,
        });
        for (const r of ["wildcard", "apex"])
          expect(
            s.rec.one("gcp:dns/recordSet:RecordSet", `${sw.name}-${r}`).inputs.managedZone,
          ).to.equal(`${sw.name}-zone`);
      }
      // Every DNS grant to a swarm account is on a swarm zone, never the platform zone; on
      // the project only the list-zones custom role.
      const swarmMember = (m: string) => /serviceAccount:[a-z0-9]+-(managers|workers)@/.test(m);
      for (const m of s.rec.all("gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember"))
        if (swarmMember(m.inputs.member))
          expect(m.inputs.managedZone, m.name).to.not.equal(platformZone.name);
      for (const m of s.rec.all("gcp:projects/iAMMember:IAMMember"))
        if (swarmMember(m.inputs.member))
          expect(m.inputs.role, m.name).to.not.match(/^roles\/dns\./);
    });
  });
}
