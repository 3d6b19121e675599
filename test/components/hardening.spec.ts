// Issue 12, the rest of the production stack: KMS encryption of Kubernetes Secrets, Binary
// Authorization, Cloud Armor in front of the registrar, pinned swarm node images, configured
// images pinned by digest through @pulumi/docker, and the swarms' own objects declared on
// their Docker API (the second step of `up`).
import { unlinkSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { ConfigError, parseConfig } from "../../components/config";
import { createPlatform } from "../../components/platform";
import { REQUIRED_APIS } from "../../components/project-services";
import { RegistrarArmor } from "../../components/registrar-armor";
import { ImagePins } from "../../components/image-pins";
import { CUSTOM_RESOURCE_PERMISSIONS, KIND_PERMISSIONS } from "../../components/preview-role";
import { publishedPem, wildcardSecretNames } from "../../components/swarm-engine";
import { renderSwarmScript } from "../../components/swarm-script";
import { armorAction } from "./armor-model";
import { autoName, floatingImage, resourceRules, workloadImages } from "./gcp-rules";
import { secretAt, settle, useMocks, valueOf, type Recorder } from "./mocks";
import { buildStack, exclusive, stackConfig, stackSecrets } from "./stack";
import { sandboxScriptVars, SwarmSandbox } from "./swarm-sandbox";

const CLUSTER = "gcp:container/cluster:Cluster";
const DIGEST = /@sha256:[a-f0-9]{64}$/;

/** Binary Authorization's allowlist match: `*` within a segment, `**` across, at the end only. */
function admitted(patterns: string[], image: string): boolean {
  const name = image.replace(/@sha256:[a-f0-9]{64}$/, "");
  return patterns.some((p) => {
    if (p.endsWith("**")) return name.startsWith(p.slice(0, -2));
    if (p.endsWith("*"))
      return name.startsWith(p.slice(0, -1)) && !name.slice(p.length - 1).includes("/");
    return name === p;
  });
}

for (const env of ["dev", "prod"]) {
  describe(`components: cluster and edge hardening (${env})`, () => {
    it("Kubernetes Secrets are encrypted with a rotated KMS key in the clusters' region that only GKE's service agent uses", async () => {
      const { rec, cfg } = await buildStack(env);
      const ring = rec.one("gcp:kms/keyRing:KeyRing").inputs;
      const key = rec.one("gcp:kms/cryptoKey:CryptoKey");
      expect(key.inputs.keyRing).to.equal("k8s-secrets_id");
      expect(key.inputs.purpose).to.equal("ENCRYPT_DECRYPT");
      const seconds = Number(/^(\d+)s$/.exec(key.inputs.rotationPeriod)![1]);
      expect(seconds).to.be.at.most(90 * 86400);
      const clusters = rec.all(CLUSTER);
      expect(clusters).to.have.length(2);
      for (const c of clusters) {
        // GKE takes a key only in the cluster's own location.
        expect(ring.location, c.name).to.equal(c.inputs.location);
        expect(c.inputs.databaseEncryption).to.deep.equal({
          state: "ENCRYPTED",
          keyName: `${key.name}_id`,
        });
        expect(rec.dependsOn(CLUSTER, c.name)).to.include("k8s-secrets-gke-agent");
      }
      const grants = rec.all("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember");
      expect(grants.map((g) => g.inputs)).to.deep.equal([
        {
          cryptoKeyId: `${key.name}_id`,
          role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
          member:
            "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com",
        },
      ]);
      const apis = rec.all("gcp:projects/service:Service").map((s) => s.inputs.service);
      expect(apis).to.include.members([
        "cloudkms.googleapis.com",
        "binaryauthorization.googleapis.com",
      ]);
      expect(REQUIRED_APIS.length).to.equal(apis.length);
      expect(cfg.env).to.equal(env);
    });

    it("Binary Authorization: both clusters enforce a deny-by-default project policy that admits the platform's registry (every workload image is admitted and pinned by digest)", async () => {
      const { rec, cfg } = await buildStack(env);
      const policy = rec.one("gcp:binaryauthorization/policy:Policy").inputs;
      expect(policy.defaultAdmissionRule).to.deep.equal({
        evaluationMode: "ALWAYS_DENY",
        enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG",
      });
      // GKE's own system images are judged by Google's global policy.
      expect(policy.globalPolicyEvaluationMode).to.equal("ENABLE");
      const patterns = policy.admissionWhitelistPatterns.map((p: any) => p.namePattern as string);
      expect(patterns).to.include(`${cfg.region}-docker.pkg.dev/${cfg.project}/atplatform/*`);
      for (const c of rec.all(CLUSTER)) {
        expect(c.inputs.binaryAuthorization).to.deep.equal({
          evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE",
        });
        expect(rec.dependsOn(CLUSTER, c.name)).to.include("admission");
      }
      const gkeImages = workloadImages(rec.resources).filter(
        (w) => !w.where.startsWith("registrar-swarms"),
      );
      expect(gkeImages.length).to.be.greaterThan(0);
      for (const { where, image } of gkeImages) {
        expect(admitted(patterns, image), `${where}: ${image}`).to.equal(true);
        expect(image, where).to.match(DIGEST);
      }
      expect(admitted(patterns, "docker.io/library/busybox@sha256:" + "a".repeat(64))).to.equal(
        false,
      );
      expect(admitted(patterns, `${cfg.region}-docker.pkg.dev/${cfg.project}/other/x:1`)).to.equal(
        false,
      );
    });

    it("Cloud Armor on the registrar's backend: /admin and /api/admin refused from the internet however spelt; everything else rate-limited per client", async () => {
      const { rec } = await buildStack(env);
      const policy = rec.one("gcp:compute/securityPolicy:SecurityPolicy");
      const backend = rec.one("kubernetes:cloud.google.com/v1:BackendConfig").inputs;
      expect(backend.spec.securityPolicy).to.deep.equal({ name: autoName(policy.name) });
      const rules = policy.inputs.rules;
      const from = (path: string) => armorAction(rules, { path, ip: "198.51.100.7" });
      for (const p of [
        "/admin",
        "/admin/atsigns/%40alice",
        "/ADMIN",
        "/%61dmin",
        "/x/../admin",
        "/api/admin/atsigns",
        "/api/Admin/atsigns/@bob/suspend",
      ])
        expect(from(p), p).to.equal("deny(403)");
      for (const p of ["/", "/api/app/v3/get-atsign", "/healthz"])
        expect(from(p), p).to.equal("throttle");
      const limit = rules.find((r: any) => r.action === "throttle").rateLimitOptions;
      expect(limit).to.deep.include({ enforceOnKey: "IP", exceedAction: "deny(429)" });
    });

    it("10: the CI preview role covers a dry-run apply of every Kubernetes kind the stack declares, and reads no Secret", async () => {
      const { rec, out } = await buildStack(env);
      const role = rec.one("gcp:projects/iAMCustomRole:IAMCustomRole", "ci-preview").inputs;
      expect(await valueOf(out.previewRole)).to.match(
        /^projects\/.+\/roles\/atplatformPreview_[a-f0-9]+$/,
      );
      const perms = new Set<string>(role.permissions);
      const kinds = new Set(
        rec.resources
          .filter((r) => r.type.startsWith("kubernetes:") && r.custom)
          .map((r) => r.type),
      );
      expect(kinds.size).to.be.greaterThan(5);
      for (const type of kinds) {
        const [, group, kind] = /^kubernetes:([^:]*):(\w+)$/.exec(type)!;
        const custom =
          group!.includes(".") &&
          !group!.startsWith("networking.k8s.io") &&
          !group!.startsWith("storage.k8s.io");
        const resource = custom ? CUSTOM_RESOURCE_PERMISSIONS : KIND_PERMISSIONS[kind!];
        expect(resource, `${type} has no IAM mapping`).to.not.equal(undefined);
        for (const verb of ["create", "update"])
          expect(perms.has(`container.${resource}.${verb}`), `${type} ${verb}`).to.equal(true);
      }
      for (const p of perms) {
        expect(p, p).to.not.match(/\.delete$|^container\.pods\.|createToken|impersonate/);
        expect(p, p).to.not.match(/^container\.secrets\.(get|list|watch)$/);
      }
      expect(perms.has("container.clusters.connect")).to.equal(true);
      // The stack binds it to nobody: the operator grants it to the CI identity.
      const bound = rec
        .all("gcp:projects/iAMMember:IAMMember")
        .filter((m) => String(m.inputs.role).includes("atplatformPreview"));
      expect(bound).to.deep.equal([]);
    });

    it("swarm VMs boot one named image (no family) and install packages from a fixed Debian snapshot", async () => {
      const { rec, cfg } = await buildStack(env);
      const templates = rec.all("gcp:compute/instanceTemplate:InstanceTemplate");
      expect(templates.length).to.equal(cfg.swarms.length * 2);
      for (const t of templates) {
        const image = t.inputs.disks[0].sourceImage as string;
        expect(floatingImage(image), `${t.name}: ${image}`).to.equal(false);
        expect(image).to.equal(cfg.swarmNodeImage.image);
        const script = t.inputs.metadata["startup-script"] as string;
        expect(script).to.contain(`ATP_APT_SNAPSHOT='${cfg.swarmNodeImage.aptSnapshot}'`);
        expect(script).to.contain(`ATP_OPS_AGENT_VERSION='${cfg.swarmNodeImage.opsAgentVersion}'`);
      }
    });
  });
}

describe("components: hardening details", () => {
  it("Cloud Armor: configured admin CIDRs reach /admin, nobody else does", () =>
    exclusive(async () => {
      const rec = await useMocks();
      new RegistrarArmor("armor", { adminCidrs: ["203.0.113.0/24"], requestsPerMinute: 100 });
      await settle();
      const rules = rec.one("gcp:compute/securityPolicy:SecurityPolicy").inputs.rules;
      expect(rec.apiViolations).to.deep.equal([]);
      expect(armorAction(rules, { path: "/admin", ip: "203.0.113.9" })).to.equal("allow");
      expect(armorAction(rules, { path: "/api/admin/atsigns", ip: "203.0.113.9" })).to.equal(
        "allow",
      );
      expect(armorAction(rules, { path: "/admin", ip: "203.0.114.9" })).to.equal("deny(403)");
    }));

  it("config: the swarm node image must be one image, never a family, and the snapshot a timestamp", () => {
    const fail = (v: object) => {
      try {
        parseConfig(
          { ...stackConfig("dev"), "atplatform:swarmNodeImage": JSON.stringify(v) },
          stackSecrets(),
        );
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as ConfigError).message;
      }
      throw new Error("accepted");
    };
    expect(fail({ image: "projects/debian-cloud/global/images/family/debian-12" })).to.contain(
      "atplatform:swarmNodeImage.image",
    );
    expect(fail({ image: "debian-cloud/debian-12" })).to.contain("swarmNodeImage.image");
    expect(fail({ aptSnapshot: "latest" })).to.contain("swarmNodeImage.aptSnapshot");
    expect(fail({ opsAgentVersion: "2.*.*" })).to.contain("swarmNodeImage.opsAgentVersion");
    const ok = parseConfig(
      {
        ...stackConfig("dev"),
        "atplatform:swarmNodeImage": JSON.stringify({
          image: "projects/my-proj/global/images/atplatform-swarm-20261201",
        }),
      },
      stackSecrets(),
    );
    expect(ok.swarmNodeImage.image).to.equal(
      "projects/my-proj/global/images/atplatform-swarm-20261201",
    );
  });

  it("a VM's first boot takes packages from the pinned snapshot only, with the Ops Agent at its pinned version", async () => {
    const b = new SwarmSandbox("swarm1-wkr-a1b2", "10.12.0.80");
    try {
      // A stock image: no NFS client yet, and the image's own (moving) Debian sources.
      unlinkSync(join(b.dir, "bin", "mount.nfs"));
      mkdirSync(join(b.root, "etc/apt/sources.list.d"), { recursive: true });
      writeFileSync(
        join(b.root, "etc/apt/sources.list.d/debian.sources"),
        "URIs: deb.debian.org\n",
      );
      const script = renderSwarmScript(sandboxScriptVars("worker"));
      await b.run(script, "boot");
      const list = readFileSync(
        join(b.root, "etc/apt/sources.list.d/atplatform-snapshot.list"),
        "utf8",
      );
      expect(list.trim().split("\n")).to.deep.equal([
        "deb [check-valid-until=no] https://snapshot.debian.org/archive/debian/20261101T000000Z bookworm main",
        "deb [check-valid-until=no] https://snapshot.debian.org/archive/debian/20261101T000000Z bookworm-updates main",
        "deb [check-valid-until=no] https://snapshot.debian.org/archive/debian-security/20261101T000000Z bookworm-security main",
      ]);
      expect(existsSync(join(b.root, "etc/apt/sources.list.d/debian.sources"))).to.equal(false);
      expect(existsSync(join(b.root, "etc/apt/sources.list.d/debian.sources.floating"))).to.equal(
        true,
      );
      expect(b.calls("apt-get install").length).to.equal(1);
      expect(script).to.contain('--also-install --version="${ATP_OPS_AGENT_VERSION}"');
    } finally {
      b.cleanup();
    }
  });

  it("@pulumi/docker pins a tag to its registry digest; a digest is kept as given, without a lookup", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const pins = new ImagePins("pins", { region: "europe-west2" });
      const tagged = pins.pin("ghcr.io/example/directory:1.2");
      const digest = "europe-west2-docker.pkg.dev/p/r/atserver@sha256:" + "c".repeat(64);
      expect(await valueOf(tagged)).to.match(
        /^ghcr\.io\/example\/directory:1\.2@sha256:[a-f0-9]{64}$/,
      );
      expect(await valueOf(pins.pin(digest))).to.equal(digest);
      await settle();
      expect(rec.calls.filter((c) => c.startsWith("docker:"))).to.deep.equal([
        "docker:index/getRegistryImage:getRegistryImage",
      ]);
      const provider = rec.one("pulumi:providers:docker");
      // Provider inputs reach the engine as JSON text.
      expect(String(provider.inputs.disableDockerDaemonCheck)).to.equal("true");
      expect(secretAt(provider.rawInputs, ["registryAuth"])).to.equal(true);
    }));

  describe("a dev stack with configured images by tag and the second step of `up`", () => {
    let rec: Recorder;
    const dirTag = "europe-west2-docker.pkg.dev/atplatform-dev/ext/directory:1.2";
    const atTag = "europe-west2-docker.pkg.dev/atplatform-dev/ext/atserver:1.2";
    before(() =>
      exclusive(async () => {
        rec = await useMocks({ project: "atplatform-dev" });
        const raw = stackConfig("dev");
        const swarms = JSON.parse(raw["atplatform:swarms"]!);
        swarms[0].engineHost = "tcp://localhost:12376";
        createPlatform(
          parseConfig(
            {
              ...raw,
              "atplatform:directory": JSON.stringify({ image: dirTag }),
              "atplatform:atserverImage": atTag,
              "atplatform:swarms": JSON.stringify(swarms),
            },
            stackSecrets(),
          ),
        );
        await settle();
      }),
    );

    it("every configured reference runs pinned to the digest the registry has for its tag", () => {
      const dep = rec.one("kubernetes:apps/v1:Deployment").inputs;
      expect(dep.spec.template.spec.containers[0].image).to.match(
        new RegExp(`^${dirTag.replace(/[.]/g, "\\.")}@sha256:[a-f0-9]{64}$`),
      );
      const list = rec.one("gcp:secretmanager/secretVersion:SecretVersion", "swarm1-images");
      expect(list.inputs.secretData).to.match(/\/ext\/atserver@sha256:[a-f0-9]{64}$/);
      expect(
        rec
          .all("docker-build:index:Image")
          .map((i) => i.name)
          .sort(),
      ).to.deep.equal(["registrar-image"]);
      expect(rec.apiViolations).to.deep.equal([]);
    });

    it("the swarm's wildcard pair is declared as Docker secrets on its Engine API, under the maintenance job's names, retained when replaced", async () => {
      const engine = rec
        .all("pulumi:providers:docker")
        .find((p) => p.inputs.host === "tcp://localhost:12376")!;
      expect(engine, "engine provider").to.not.equal(undefined);
      expect(engine.inputs.caMaterial).to.contain("BEGIN CERTIFICATE");
      expect(engine.inputs.certMaterial).to.contain("BEGIN CERTIFICATE");
      expect(secretAt(engine.rawInputs, ["keyMaterial"])).to.equal(true);
      const secrets = rec.all("docker:index/secret:Secret");
      expect(secrets.map((s) => s.name).sort()).to.deep.equal([
        "swarm1-wildcard-crt",
        "swarm1-wildcard-key",
      ]);
      const chain = rec.one("gcp:secretmanager/secretVersion:SecretVersion", "swarm1-tls-cert")
        .inputs.secretData as string;
      const names = wildcardSecretNames(chain);
      const crt = secrets.find((s) => s.name === "swarm1-wildcard-crt")!;
      expect(crt.inputs.name).to.equal(names.crt);
      expect(Buffer.from(crt.inputs.data, "base64").toString()).to.equal(publishedPem(chain));
      expect(secrets.find((s) => s.name === "swarm1-wildcard-key")!.inputs.name).to.equal(
        names.key,
      );
      for (const s of secrets) {
        expect(s.provider).to.contain("swarm1-engine");
        expect(s.inputs.labels).to.deep.equal([{ label: "atplatform.tls", value: "wildcard" }]);
        expect(secretAt(s.rawInputs, ["data"])).to.equal(true);
        expect(rec.retainedResources.has(`docker:index/secret:Secret::${s.name}`)).to.equal(true);
      }
    });
  });

  it("without engineHost (the first step) nothing talks to a swarm's Docker API", async () => {
    const { rec } = await buildStack("dev");
    expect(rec.all("docker:index/secret:Secret")).to.deep.equal([]);
    expect(rec.all("pulumi:providers:docker")).to.deep.equal([]);
  });
});

describe("components: GCP API rules for the hardening resources (the checks themselves)", () => {
  const violations = (type: string, inputs: Record<string, unknown>) =>
    resourceRules(type, "x", inputs).map((v) => v.message);

  it("KMS: a rotation period under a day or not in seconds is rejected; ids are checked", () => {
    const key = (rotationPeriod: string) =>
      violations("gcp:kms/cryptoKey:CryptoKey", { rotationPeriod });
    expect(key("3600s")).to.have.length(1);
    expect(key("90d")).to.have.length(1);
    expect(key("7776000s")).to.deep.equal([]);
    expect(violations("gcp:kms/keyRing:KeyRing", { name: "bad name" })).to.have.length(1);
  });

  it("GKE: ENCRYPTED without a key, or an unknown Binary Authorization mode, is rejected", () => {
    const c = (i: Record<string, unknown>) => violations(CLUSTER, i);
    expect(c({ databaseEncryption: { state: "ENCRYPTED" } })).to.have.length(1);
    expect(c({ binaryAuthorization: { evaluationMode: "ENFORCE" } })).to.have.length(1);
    expect(
      c({ binaryAuthorization: { enabled: true, evaluationMode: "DISABLED" } }),
    ).to.have.length(1);
    expect(
      c({
        databaseEncryption: { state: "ENCRYPTED", keyName: "k" },
        binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
      }),
    ).to.deep.equal([]);
  });

  it("Binary Authorization: a wildcard before the end of a pattern and unknown modes are rejected", () => {
    const p = (namePattern: string, evaluationMode = "ALWAYS_DENY") =>
      violations("gcp:binaryauthorization/policy:Policy", {
        admissionWhitelistPatterns: [{ namePattern }],
        defaultAdmissionRule: { evaluationMode, enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" },
      });
    expect(p("europe-west2-docker.pkg.dev/*/atplatform/*")).to.have.length(1);
    expect(p("europe-west2-docker.pkg.dev/p/atplatform/*", "DENY")).to.have.length(1);
    expect(p("europe-west2-docker.pkg.dev/p/atplatform/**")).to.deep.equal([]);
  });

  it("Cloud Armor: duplicate priorities, no default rule, six subexpressions and a bare throttle are rejected", () => {
    const everyone = { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } };
    const def = { priority: 2147483647, action: "allow", match: everyone };
    const pol = (rules: unknown[]) =>
      violations("gcp:compute/securityPolicy:SecurityPolicy", { rules });
    expect(pol([{ priority: 1, action: "allow", match: everyone }])).to.have.length(1);
    expect(pol([def, { ...def }])).to.have.length(1);
    const six = Array(6).fill("inIpRange(origin.ip, '10.0.0.0/8')").join(" && ");
    expect(
      pol([def, { priority: 5, action: "deny(403)", match: { expr: { expression: six } } }]),
    ).to.have.length(1);
    expect(pol([def, { priority: 5, action: "throttle", match: everyone }])).to.have.length(1);
    expect(pol([def])).to.deep.equal([]);
  });
});
