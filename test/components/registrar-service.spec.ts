// One test per invariant of the registrar workload (components/registrar-service.ts), over the
// dev and prod stacks, plus contracts with services/registrar: the pod's environment parses
// with the registrar's own config reader, and the probed path is a route it serves.
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { configFromEnv } from "@atplatform/registrar/src/config";
import { apiRoutes } from "@atplatform/registrar/src/http/api-routes";
import { ConfigError, parseConfig, type RawConfig } from "../../components/config";
import { createPlatform, type PlatformOutputs } from "../../components/platform";
import {
  REGISTRAR_DATA_DIR,
  REGISTRAR_HEALTH_PATH,
  REGISTRAR_HTTP_PORT,
  REGISTRAR_METRICS_PORT,
  RegistrarService,
} from "../../components/registrar-service";
import { SWARM_SECRETS_MOUNT, SWARMS_FILE } from "../../components/registrar-swarms";
import { autoName } from "./gcp-rules";
import {
  isSecretOutput,
  secretAt,
  settle,
  useMocks,
  valueOf,
  type Recorded,
  type Recorder,
} from "./mocks";
import {
  buildStack,
  exclusive,
  type BuiltStack,
  stackConfig,
  stackSecrets,
  TEST_PEM_CERT,
} from "./stack";

const STS = "kubernetes:apps/v1:StatefulSet";
const SECRET = "kubernetes:core/v1:Secret";

type EnvVar = { name: string; value?: string; valueFrom?: any };
const pod = (rec: Recorder) => rec.one(STS, "registrar").inputs.spec.template.spec;
const container = (rec: Recorder) => pod(rec).containers[0];

/** A Secret of the registrar's cluster by its Kubernetes name. */
function clusterSecret(rec: Recorder, name: string): Recorded {
  const found = rec
    .all(SECRET)
    .filter((s) => s.provider?.includes("::registrar-k8s::") && s.inputs.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one Secret ${name}, found ${found.length}`);
  return found[0]!;
}

/** The environment the registrar process sees, with Secret references resolved. */
function resolvedEnv(rec: Recorder): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const e of container(rec).env as EnvVar[]) {
    const ref = e.valueFrom?.secretKeyRef;
    env[e.name] = ref ? clusterSecret(rec, ref.name).inputs.stringData[ref.key] : e.value;
  }
  return env;
}

/** The registrar's outputs: from createPlatform (dev), or as index.ts exports them (prod). */
function registrarOutputs(s: BuiltStack): NonNullable<PlatformOutputs["registrar"]> {
  if (s.out.registrar) return s.out.registrar;
  const program = s.out as unknown as Record<string, any>;
  expect(program.registrarUrl, "index.ts exports the registrar").to.be.a("string");
  return {
    url: program.registrarUrl,
    ip: program.registrarIp,
    apiKey: program.registrarApiKey,
    adminKey: program.registrarAdminKey,
    caPem: program.registrarCaPem,
  };
}

for (const envName of ["dev", "prod"]) {
  describe(`components: registrar service (${envName})`, () => {
    const get = () => buildStack(envName);

    it("one replica of a StatefulSet (no Deployment) with a ReadWriteOnce claim of the configured size", async () => {
      const { rec, cfg } = await get();
      const sts = rec.one(STS, "registrar").inputs;
      expect(sts.spec.replicas).to.equal(1);
      expect(sts.spec.updateStrategy).to.deep.equal({ type: "RollingUpdate" });
      expect(sts.spec.persistentVolumeClaimRetentionPolicy).to.deep.equal({
        whenDeleted: "Retain",
        whenScaled: "Retain",
      });
      expect(sts.metadata.name).to.equal("registrar"); // keeps data-registrar-0 across replacement
      const [claim, ...more] = sts.spec.volumeClaimTemplates;
      expect(more).to.deep.equal([]);
      expect(claim.spec.accessModes).to.deep.equal(["ReadWriteOnce"]);
      expect(claim.spec.resources.requests.storage).to.equal(`${cfg.registrar.storageGb}Gi`);
      const mount = container(rec).volumeMounts.find((m: any) => m.name === claim.metadata.name);
      expect(mount.mountPath).to.equal(REGISTRAR_DATA_DIR);
      expect(resolvedEnv(rec).REGISTRAR_DATA_DIR).to.equal(REGISTRAR_DATA_DIR);
      const sc = rec.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs;
      expect(sc.parameters["replication-type"]).to.equal("regional-pd");
      expect(sc.reclaimPolicy).to.equal(envName === "prod" ? "Retain" : "Delete");
      // The only Deployment is the directory's: the registrar never runs as a Deployment.
      expect(rec.all("kubernetes:apps/v1:Deployment").map((d) => d.name)).to.deep.equal([
        "atdirectory",
      ]);
    });

    it("no secret in clear in the pod spec: keys, passwords and the Redis primary come by secretKeyRef", async () => {
      const built = await get();
      const { rec } = built;
      const out = registrarOutputs(built);
      const c = container(rec);
      expect(c).to.not.have.property("args");
      expect(c).to.not.have.property("command");
      const env = c.env as EnvVar[];
      const sensitive = env.filter((e) => /KEY|PASS|REDIS/.test(e.name));
      expect(sensitive.map((e) => e.name).sort()).to.deep.equal([
        "REGISTRAR_ADMIN_KEY",
        "REGISTRAR_API_KEY",
        "REGISTRAR_DIRECTORY_REDIS",
        "REGISTRAR_DIRECTORY_REDIS_PASSWORD",
      ]);
      for (const e of sensitive) {
        expect(e, e.name).to.not.have.property("value");
        expect(e.valueFrom.secretKeyRef.name, e.name).to.be.a("string");
      }
      const spec = JSON.stringify(rec.one(STS, "registrar").inputs);
      for (const secret of [
        "mock-redis-auth", // the mock's Memorystore AUTH string
        "10.60.0.3", // the mock's primary host
        await valueOf(out.apiKey),
        await valueOf(out.adminKey),
      ])
        expect(spec).to.not.contain(secret);
      // Where they are stored, they are secret.
      const app = clusterSecret(rec, "registrar-app");
      for (const field of ["api-key", "admin-key"])
        expect(secretAt(app.rawInputs, ["stringData", field]), field).to.equal(true);
      expect(secretAt(clusterSecret(rec, "registrar-tls").rawInputs, ["stringData", "tls.key"])).to
        .be.true;
    });

    it("the API and admin keys are secret outputs (generated when not configured)", async () => {
      const built = await get();
      const { rec } = built;
      const r = registrarOutputs(built);
      expect(await isSecretOutput(r.apiKey)).to.equal(true);
      expect(await isSecretOutput(r.adminKey)).to.equal(true);
      const generated = rec.all("random:index/randomPassword:RandomPassword");
      expect(generated.map((g) => g.name).sort()).to.deep.equal([
        "registrar-admin-key",
        "registrar-api-key",
        "registrar-digest-key",
      ]);
      for (const g of generated) expect(g.inputs.length).to.be.at.least(32);
      expect(await valueOf(r.apiKey)).to.not.equal(await valueOf(r.adminKey));
      const env = resolvedEnv(rec);
      expect(env.REGISTRAR_API_KEY).to.equal(await valueOf(r.apiKey));
      expect(env.REGISTRAR_ADMIN_KEY).to.equal(await valueOf(r.adminKey));
    });

    it("startup, readiness and liveness probes hit the registrar's health route on its port", async () => {
      const { rec } = await get();
      const c = container(rec);
      expect(c.ports).to.deep.equal([
        { name: "http", containerPort: REGISTRAR_HTTP_PORT, protocol: "TCP" },
        { name: "metrics", containerPort: REGISTRAR_METRICS_PORT, protocol: "TCP" },
      ]);
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"])
        expect(c[probe].httpGet, probe).to.deep.equal({
          path: REGISTRAR_HEALTH_PATH,
          port: "http",
        });
      // The path is one services/registrar answers without authentication.
      expect(
        apiRoutes.some((r) => r.method === "GET" && r.path.test(REGISTRAR_HEALTH_PATH)),
      ).to.equal(true);
    });

    it("the pod's environment is what services/registrar's config reader accepts", async () => {
      const { rec, cfg } = await get();
      const parsed = configFromEnv(resolvedEnv(rec));
      expect(parsed.orchestrator).to.equal("swarm");
      expect(parsed.root).to.equal(`root.${cfg.domain}:64`);
      expect(parsed.registrar).to.deep.include({
        bindHost: "0.0.0.0",
        port: REGISTRAR_HTTP_PORT,
        dataDir: REGISTRAR_DATA_DIR,
        secureCookies: true,
        // Scraped by Managed Prometheus on the pod address (issue 15).
        metricsPort: REGISTRAR_METRICS_PORT,
        metricsHost: "0.0.0.0",
      });
      // The platform prober reads the public certificate's expiry (issue 15 alert).
      expect(parsed.registrar.publicUrl).to.equal(`https://registrar.${cfg.domain}/`);
      expect(parsed.directoryRedis).to.deep.equal({
        url: "rediss://10.60.0.3:6378", // the primary, never the read endpoint
        password: "mock-redis-auth",
        channel: undefined,
      });
      if (envName === "prod") {
        expect(parsed.smtp).to.deep.include({
          host: cfg.registrar.smtp!.host,
          port: 587,
          secure: false,
        });
      } else expect(parsed.smtp).to.equal(undefined);
    });

    it("the swarms file, each swarm's Engine API credentials and the trust bundle are mounted from Secrets", async () => {
      const { rec, cfg } = await get();
      const c = container(rec);
      const volumes = pod(rec).volumes as any[];
      const mountedSecret = (path: string): string => {
        const m = (c.volumeMounts as any[]).find((x) => x.mountPath === path);
        expect(m, path).to.not.equal(undefined);
        expect(m.readOnly, path).to.equal(true);
        return volumes.find((v) => v.name === m.name).secret.secretName;
      };
      const env = resolvedEnv(rec);
      expect(env.REGISTRAR_SWARMS_FILE).to.equal(SWARMS_FILE);
      const fileSecret = mountedSecret(SWARMS_FILE.replace(/\/[^/]+$/, ""));
      expect(clusterSecret(rec, fileSecret).inputs.stringData).to.have.key("swarms.json");
      for (const s of cfg.swarms) {
        const data = clusterSecret(rec, mountedSecret(`${SWARM_SECRETS_MOUNT}/${s.name}`)).inputs
          .stringData;
        expect(data).to.include.keys("ca.pem", "cert.pem", "key.pem");
      }
      const bundleFile = env.NODE_EXTRA_CA_CERTS!;
      const bundleSecret = clusterSecret(rec, mountedSecret(bundleFile.replace(/\/[^/]+$/, "")));
      const bundle = bundleSecret.inputs.stringData["ca-bundle.pem"] as string;
      expect(bundle).to.contain(Buffer.from("memorystore-ca").toString("base64"));
      // dev: the private CAs of root.<domain> and the swarms' atServers, too.
      expect(bundle.match(/BEGIN CERTIFICATE/g)).to.have.length(envName === "dev" ? 3 : 1);
      expect(pod(rec).automountServiceAccountToken).to.equal(false);
    });

    it("runs as non-root with a read-only root filesystem, a writable /tmp and resource bounds", async () => {
      const { rec, cfg } = await get();
      const p = pod(rec);
      const c = container(rec);
      expect(p.securityContext).to.deep.include({
        runAsNonRoot: true,
        runAsUser: 1024,
        fsGroup: 1024,
      });
      expect(c.securityContext).to.deep.equal({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      const tmp = (c.volumeMounts as any[]).find((m) => m.mountPath === "/tmp");
      expect(p.volumes.find((v: any) => v.name === tmp.name).emptyDir).to.not.equal(undefined);
      expect(c.resources).to.deep.equal({
        requests: { cpu: cfg.registrar.cpu, memory: cfg.registrar.memory },
        limits: { memory: cfg.registrar.memory },
      });
    });

    it("HTTPS on 443 only: an Ingress on a reserved global IP with registrar.<domain>'s certificate", async () => {
      const built = await get();
      const { rec, cfg } = built;
      const out = registrarOutputs(built);
      const host = `registrar.${cfg.domain}`;
      const ing = rec.one("kubernetes:networking.k8s.io/v1:Ingress").inputs;
      const address = rec.one("gcp:compute/globalAddress:GlobalAddress", "registrar-ip");
      expect(ing.metadata.annotations).to.deep.include({
        "kubernetes.io/ingress.class": "gce",
        "kubernetes.io/ingress.allow-http": "false", // no port 80: the load balancer serves 443
        "kubernetes.io/ingress.global-static-ip-name": address.name,
      });
      expect(ing.spec.tls).to.deep.equal([{ hosts: [host], secretName: "registrar-tls" }]);
      const tls = clusterSecret(rec, "registrar-tls").inputs;
      expect(tls.type).to.equal("kubernetes.io/tls");
      // The backend is the registrar's ClusterIP Service (not a second public L4 load balancer).
      const svc = rec.one("kubernetes:core/v1:Service", "registrar").inputs;
      expect(svc.spec.type).to.equal("ClusterIP");
      expect(ing.spec.defaultBackend.service).to.deep.equal({
        name: svc.metadata.name,
        port: { name: "http" },
      });
      expect(svc.spec.ports[0].targetPort).to.equal("http");
      // The activation API may wait 30 s: the backend timeout allows it.
      const backend = rec.one("kubernetes:cloud.google.com/v1:BackendConfig").inputs;
      expect(backend.spec.timeoutSec).to.be.greaterThan(30);
      expect(backend.spec.healthCheck.requestPath).to.equal(REGISTRAR_HEALTH_PATH);
      expect(out.url).to.equal(`https://${host}/`);
      if (envName === "dev") {
        const csr = rec.one("tls:index/certRequest:CertRequest", "registrar-tls-csr").inputs;
        expect(csr.dnsNames).to.deep.equal([host]);
        const rootCa = Buffer.from("root-ca-cert").toString("base64"); // the mock's fake PEM
        expect(await valueOf(out.caPem!)).to.contain(rootCa);
      } else {
        expect(tls.stringData["tls.crt"]).to.equal(TEST_PEM_CERT);
        expect(out.caPem).to.equal(undefined);
      }
    });

    it("the registrar's HTTPS load balancer refuses TLS below 1.2 (SSL policy through a FrontendConfig)", async () => {
      const { rec } = await get();
      const policy = rec.one("gcp:compute/sSLPolicy:SSLPolicy", "registrar-tls").inputs;
      expect(policy).to.deep.include({ profile: "MODERN", minTlsVersion: "TLS_1_2" });
      const fc = rec.one(
        "kubernetes:networking.gke.io/v1beta1:FrontendConfig",
        "registrar-frontend",
      );
      expect(fc.inputs.spec.sslPolicy).to.equal(autoName("registrar-tls"));
      const ing = rec.one("kubernetes:networking.k8s.io/v1:Ingress", "registrar").inputs;
      expect(ing.metadata.annotations["networking.gke.io/v1beta1.FrontendConfig"]).to.equal(
        fc.inputs.metadata.name,
      );
    });

    it("registrar.<domain> is an A record in the platform zone to the Ingress address", async () => {
      const built = await get();
      const { rec, cfg } = built;
      const record = rec.one("gcp:dns/recordSet:RecordSet", "registrar-dns").inputs;
      expect(record).to.deep.include({
        name: `registrar.${cfg.domain}.`,
        type: "A",
        rrdatas: ["34.120.0.9"], // the mock's global address
      });
      expect(record.managedZone).to.equal(
        rec.one("gcp:dns/managedZone:ManagedZone", "platform").name,
      );
      expect(await valueOf(registrarOutputs(built).ip)).to.equal("34.120.0.9");
    });

    it("every registrar Kubernetes resource goes through the registrar cluster's provider", async () => {
      const { rec } = await get();
      const mine = rec.resources.filter(
        (r) => r.type.startsWith("kubernetes:") && /^registrar(-|$)/.test(r.name),
      );
      expect(mine.length).to.be.at.least(7);
      for (const r of mine) expect(r.provider, r.name).to.match(/::registrar-k8s::/);
    });
  });
}

describe("components: registrar service config and variants", () => {
  const failure = (raw: RawConfig, secrets = stackSecrets()): string => {
    try {
      parseConfig(raw, secrets);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error("config was accepted");
  };
  const withRegistrar = (env: string, patch: Record<string, unknown>): RawConfig => {
    const raw = stackConfig(env);
    const obj = { ...JSON.parse(raw["atplatform:registrar"] ?? "{}"), ...patch };
    for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
    return { ...raw, "atplatform:registrar": JSON.stringify(obj) };
  };

  it("bad registrar config fails naming the key", async () => {
    expect(failure(withRegistrar("dev", { storageGb: 5 }))).to.contain(
      "config atplatform:registrar.storageGb: 5 is outside 10..1024",
    );
    expect(
      failure({
        ...withRegistrar("dev", { image: undefined }),
        "atplatform:directory": JSON.stringify({ image: "gcr.io/p/d:1" }),
        "atplatform:atserverImage": `europe-west2-docker.pkg.dev/p-roject/r/atserver@sha256:${"c".repeat(64)}`,
        "atplatform:buildImages": "false",
      }),
    ).to.contain("config atplatform:registrar.image: is required");
    expect(failure(withRegistrar("dev", { replicas: 2 }))).to.contain(
      "config atplatform:registrar.replicas: is not a known field",
    );
    expect(failure(withRegistrar("dev", { smtpPort: 25 }))).to.contain(
      "config atplatform:registrar.smtpPort: needs smtpHost",
    );
    expect(failure(withRegistrar("prod", { smtpHost: undefined }))).to.contain(
      "config atplatform:registrar.smtpHost: is required in prod",
    );
    expect(
      failure(withRegistrar("prod", { smtpFrom: "x@y.example>\r\nBcc: z@w.example" })),
    ).to.contain("config atplatform:registrar.smtpFrom:");
    const secrets = stackSecrets();
    delete secrets["atplatform:registrarTlsKey"];
    expect(failure(stackConfig("prod"), secrets)).to.contain(
      "config atplatform:registrarTlsKey: is required (set it with --secret) when registrarTls is provided",
    );
    // Secret values are checked when they resolve, still naming the key.
    const cfg = parseConfig(stackConfig("dev"), {
      ...stackSecrets(),
      "atplatform:registrarApiKey": pulumi.secret("short"),
    });
    const err = await valueOf(cfg.registrar.apiKey!).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).to.contain("config atplatform:registrarApiKey: must be at least 16");
    // Without swarms the registrar is not deployed, so its image is not needed.
    expect(() =>
      parseConfig(
        { ...withRegistrar("dev", { image: undefined }), "atplatform:swarms": undefined },
        stackSecrets(),
      ),
    ).to.not.throw();
  });

  it("configured keys and SMTP password are used as given (secret), nothing is generated", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const provider = new k8s.Provider("registrar-k8s", {});
      const svc = new RegistrarService("registrar", {
        provider,
        namespace: "registrar",
        settings: {
          image: "europe-west2-docker.pkg.dev/p/atplatform/registrar:t",
          storageGb: 10,
          cpu: "100m",
          memory: "256Mi",
          adminCidrs: [],
          smtp: {
            host: "smtp.example.org",
            port: 465,
            secure: true,
            user: "u",
            from: "r <no-reply@example.org>",
            password: pulumi.secret("smtp-secret-value"),
          },
          apiKey: pulumi.secret("given-api-key-0123456789"),
          adminKey: pulumi.secret("given-admin-key-0123456789"),
          tls: { mode: "private-ca" },
        },
        image: "europe-west2-docker.pkg.dev/p/atplatform/registrar:t",
        rootAddress: "root.example.org:64",
        redisSecretName: "redis-primary",
        swarmsSecretName: "registrar-swarms",
        swarmsJson: "{}",
        swarmNames: ["swarm1"],
        trustedCaPems: [TEST_PEM_CERT],
        tlsChainPem: TEST_PEM_CERT,
        tlsKeyPem: pulumi.secret("key"),
        zoneName: "platform",
        hostname: "registrar.example.org",
        retainDisk: false,
        labels: {},
      });
      await settle();
      // Only the rollout digest's HMAC key; no API or admin key is generated.
      expect(
        rec.all("random:index/randomPassword:RandomPassword").map((r) => r.name),
      ).to.deep.equal(["registrar-digest-key"]);
      expect(await valueOf(svc.apiKey)).to.equal("given-api-key-0123456789");
      expect(await isSecretOutput(svc.adminKey)).to.equal(true);
      const app = rec.one(SECRET, "registrar-app");
      expect(app.inputs.stringData["smtp-password"]).to.equal("smtp-secret-value");
      expect(secretAt(app.rawInputs, ["stringData", "smtp-password"])).to.equal(true);
      const env = rec.one(STS).inputs.spec.template.spec.containers[0].env as EnvVar[];
      const pass = env.find((e) => e.name === "SMTP_PASS")!;
      expect(pass.valueFrom.secretKeyRef).to.deep.equal({
        name: "registrar-app",
        key: "smtp-password",
      });
      expect(env.find((e) => e.name === "SMTP_SECURE")!.value).to.equal("true");
      expect(JSON.stringify(rec.one(STS).inputs)).to.not.contain("smtp-secret-value");
    }));

  it("with buildImages and no registrar.image the pod runs the image the stack built, by digest", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const raw = {
        ...withRegistrar("dev", { image: undefined }),
        "atplatform:buildImages": "true",
      };
      createPlatform(parseConfig(raw, stackSecrets()));
      await settle();
      expect(container(rec).image).to.match(
        /^europe-west2-docker\.pkg\.dev\/test-proj\/atplatform\/registrar:dev-[a-f0-9]{16}@sha256:[a-f0-9]{64}$/,
      );
    }));

  it("without swarms there is nothing to place atServers on: no registrar workload", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const cfg = parseConfig({ ...stackConfig("dev"), "atplatform:swarms": undefined });
      const out = createPlatform(cfg);
      await settle();
      expect(out.registrar).to.equal(undefined);
      expect(rec.all(STS)).to.deep.equal([]);
      expect(rec.all("kubernetes:networking.k8s.io/v1:Ingress")).to.deep.equal([]);
    }));

  it("7: a new atServer image (the swarms file) rolls the registrar pod, and the rollout annotation is no plain hash of its secrets", () =>
    exclusive(async () => {
      const digestOf = async (atserverImage: string) => {
        const rec = await useMocks();
        createPlatform(
          parseConfig(
            { ...stackConfig("dev"), "atplatform:atserverImage": atserverImage },
            stackSecrets(),
          ),
        );
        await settle();
        const sts = rec.one(STS).inputs.spec.template.metadata.annotations;
        const app = rec.one(SECRET, "registrar-app").inputs.stringData;
        return { digest: sts["atplatform.io/secrets-digest"] as string, app };
      };
      const img = (d: string) =>
        `europe-west2-docker.pkg.dev/atplatform-dev/atplatform/atserver@sha256:${d.repeat(64)}`;
      const a = await digestOf(img("a"));
      const b = await digestOf(img("b"));
      expect(a.digest).to.match(/^[a-f0-9]{16}$/);
      expect(b.digest).to.not.equal(a.digest);
      // Not a plain hash anyone could recompute from guessed secrets.
      for (const values of [[a.app["api-key"], a.app["admin-key"]], [a.app["api-key"]]])
        expect(
          createHash("sha256").update(values.join("\0")).digest("hex").slice(0, 16),
        ).to.not.equal(a.digest);
    }));
});
