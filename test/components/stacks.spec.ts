import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { expect } from "chai";
import { ConfigError, parseConfig } from "../../components/config";
import { createPlatform } from "../../components/platform";
import { isSecretOutput, settle, useMocks } from "./mocks";
import { buildStack, exclusive, ROOT, stackConfig, TEST_PEM_CERT } from "./stack";

describe("components: stacks", () => {
  it("dev and prod both produce a stack, sized differently", async () => {
    const dev = await buildStack("dev");
    const prod = await buildStack("prod");
    for (const s of [dev, prod]) {
      expect(s.rec.all("gcp:container/cluster:Cluster")).to.have.length(2);
      expect(s.rec.all("kubernetes:apps/v1:Deployment")).to.have.length(1);
      expect(s.rec.refusedCalls).to.deep.equal([]);
    }
    const pool = (s: typeof dev) =>
      s.rec.one("gcp:container/nodePool:NodePool", "directory-pool").inputs;
    expect(pool(prod).nodeConfig.machineType).to.not.equal(pool(dev).nodeConfig.machineType);
    const redis = (s: typeof dev) => s.rec.one("gcp:redis/instance:Instance").inputs;
    expect(redis(prod).replicaCount).to.be.greaterThan(redis(dev).replicaCount);
    expect(redis(prod).deletionProtection).to.equal(true);
    expect(redis(dev).deletionProtection).to.equal(false);
  });

  it("a preview-mode run (prod: two swarms, ACME, nothing computed yet) does not crash", async () => {
    const { rec, out } = await buildStack("prod", { preview: true });
    // The directory's LoadBalancer and the registrar's (ClusterIP, behind its Ingress).
    expect(rec.all("kubernetes:core/v1:Service")).to.have.length(2);
    expect(rec.all("kubernetes:apps/v1:Deployment")).to.have.length(1);
    expect(rec.all("gcp:compute/instanceTemplate:InstanceTemplate")).to.have.length(4);
    expect(await (out.rootIp as any).isKnown).to.equal(false);
    expect(await (out.swarms.swarm1!.publicIp as any).isKnown).to.equal(false);
    expect(out.rootAddress).to.match(/^root\..+:64$/);
  });

  it("index.ts loads the stack's config (prod) and exports the platform's outputs", async () => {
    const { rec, out } = await buildStack("prod");
    const program = out as unknown as Record<string, unknown>;
    expect(program.rootAddress).to.equal("root.atplatform.example:64");
    for (const k of [
      "clusterName",
      "redisPrimaryEndpoint",
      "redisReadEndpoint",
      "registryUrl",
      "nfsServer",
    ])
      expect(pulumi.Output.isInstance(program[k]), k).to.equal(true);
    // The Redis AUTH string stays in the clusters' Secrets: not a stack output at all.
    expect(program).to.not.have.property("redisAuth");
    expect(Object.keys(out.swarms)).to.deep.equal(["swarm1", "swarm2"]);
    expect(rec.all("gcp:redis/instance:Instance")).to.have.length(1);
    expect(
      rec.one("kubernetes:core/v1:Secret", "atdirectory-tls").inputs.stringData["tls.crt"],
    ).to.equal(TEST_PEM_CERT);
  });
});

describe("components: CI previews of the committed stacks", () => {
  it("11: prod previews as committed (no secrets set): certificates are unknown secrets; up still requires them", () =>
    exclusive(async () => {
      const rec = await useMocks({ preview: true, project: "atplatform-prod" });
      const cfg = parseConfig(stackConfig("prod"), {}, { preview: true });
      if (cfg.rootTls.mode !== "provided") throw new Error("prod provides its root certificate");
      expect(await (cfg.rootTls.certPem as any).isKnown).to.equal(false);
      expect(await isSecretOutput(cfg.rootTls.certPem)).to.equal(true);
      createPlatform(cfg);
      await settle();
      expect(rec.all("kubernetes:apps/v1:Deployment")).to.have.length(1);
      expect(rec.refusedCalls).to.deep.equal([]);
      expect(() => parseConfig(stackConfig("prod"), {})).to.throw(
        ConfigError,
        "atplatform:rootTlsCert",
      );
    }));

  it("11: dev previews as committed", () =>
    exclusive(async () => {
      await useMocks({ preview: true, project: "atplatform-dev" });
      createPlatform(parseConfig(stackConfig("dev"), {}, { preview: true }));
      await settle();
    }));
});

describe("components: the preview workflow", () => {
  it("10: the prod preview identity is reachable only from the reviewed preview-prod Environment", () => {
    const wf = load(readFileSync(join(ROOT, ".github/workflows/preview.yml"), "utf8")) as any;
    const job = wf.jobs.preview;
    expect(job.if).to.contain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(job.environment).to.equal("${{ matrix.environment }}");
    const prod = job.strategy.matrix.include.find((m: any) => m.stack === "prod");
    expect(prod.environment).to.equal("preview-prod");
    const ops = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
    expect(ops).to.contain("assertion.environment == '$ENVIRONMENT'");
    expect(ops).to.contain("attribute.environment/$ENVIRONMENT");
    expect(ops).to.not.contain('attribute.repository/$REPO"');
  });
});

describe("components: what a mistaken destroy must not take", () => {
  it("prod protects the DNS zones, client-visible addresses, the image registry and the swarms' join tokens; dev protects nothing", async () => {
    const prod = await buildStack("prod");
    const want = [
      "gcp:dns/managedZone:ManagedZone::platform",
      "gcp:compute/address:Address::atdirectory-ip",
      "gcp:compute/globalAddress:GlobalAddress::registrar-ip",
      "gcp:artifactregistry/repository:Repository::atplatform",
      // The key that encrypts the clusters' Secrets (KMS keeps it anyway; state must too).
      "gcp:kms/keyRing:KeyRing::k8s-secrets",
      "gcp:kms/cryptoKey:CryptoKey::k8s-secrets",
      ...prod.cfg.swarms.flatMap((s) => [
        `gcp:compute/address:Address::${s.name}-lb-ip`,
        `gcp:dns/managedZone:ManagedZone::${s.name}-zone`,
        `gcp:secretmanager/secret:Secret::${s.name}-manager-token`,
        `gcp:secretmanager/secret:Secret::${s.name}-worker-token`,
      ]),
    ];
    expect([...prod.rec.protectedResources].sort()).to.deep.equal(want.sort());
    const dev = await buildStack("dev");
    expect([...dev.rec.protectedResources]).to.deep.equal([]);
  });
});
