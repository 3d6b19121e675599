import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { ConfigError, loadConfig, parseConfig, type RawConfig } from "../../components/config";
import { FILESTORE_LIMITS, resourceRules } from "./gcp-rules";
import { useMocks, valueOf } from "./mocks";
import { exclusive, stackConfig, stackSecrets } from "./stack";

function failure(raw: RawConfig, secrets = stackSecrets()): ConfigError {
  try {
    parseConfig(raw, secrets);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("config was accepted");
}

const dev = () => stackConfig("dev");
const withObj = (raw: RawConfig, key: string, patch: Record<string, unknown>): RawConfig => ({
  ...raw,
  [key]: JSON.stringify({ ...JSON.parse(raw[key] ?? "{}"), ...patch }),
});

const swarm0 = (raw: RawConfig): Record<string, unknown> =>
  JSON.parse(raw["atplatform:swarms"] ?? "[]")[0];
const withSwarm = (raw: RawConfig, patch: Record<string, unknown>): RawConfig => ({
  ...raw,
  "atplatform:swarms": JSON.stringify([{ ...swarm0(raw), ...patch }]),
});

describe("components: config", () => {
  it("both stack files parse, and differ where they should", () => {
    const d = parseConfig(stackConfig("dev"), stackSecrets());
    const p = parseConfig(stackConfig("prod"), stackSecrets());
    expect(d.env).to.equal("dev");
    expect(p.env).to.equal("prod");
    expect(d.deletionProtection).to.equal(false);
    expect(p.deletionProtection).to.equal(true);
    expect(p.redis.replicaCount).to.be.at.least(2);
    expect(d.redis.replicaCount).to.equal(1);
    expect(p.zones).to.not.deep.equal(d.zones);
    expect(p.domain).to.not.equal(d.domain);
    expect(p.directoryCluster.maxNodesPerZone).to.be.greaterThan(
      d.directoryCluster.maxNodesPerZone,
    );
    expect(d.rootTls.mode).to.equal("private-ca");
    expect(p.rootTls.mode).to.equal("provided");
  });

  const cases: [string, (r: RawConfig) => RawConfig, string][] = [
    ["missing env", (r) => ({ ...r, "atplatform:env": undefined }), "atplatform:env"],
    ["unknown env", (r) => ({ ...r, "atplatform:env": "staging" }), "atplatform:env"],
    ["bad domain", (r) => ({ ...r, "atplatform:domain": "Not A Domain." }), "atplatform:domain"],
    [
      "two zones",
      (r) => ({ ...r, "atplatform:zones": '["europe-west2-a","europe-west2-b"]' }),
      "atplatform:zones",
    ],
    [
      "zone in another region",
      (r) => ({ ...r, "atplatform:zones": '["europe-west2-a","europe-west2-b","us-east1-b"]' }),
      "atplatform:zones[2]",
    ],
    [
      "zones not a list",
      (r) => ({ ...r, "atplatform:zones": "europe-west2-a" }),
      "atplatform:zones",
    ],
    ["missing project", (r) => ({ ...r, "gcp:project": undefined }), "gcp:project"],
    [
      "zero replicas",
      (r) => withObj(r, "atplatform:redis", { replicaCount: 0 }),
      "atplatform:redis.replicaCount",
    ],
    [
      "small redis",
      (r) => withObj(r, "atplatform:redis", { memorySizeGb: 1 }),
      "atplatform:redis.memorySizeGb",
    ],
    [
      "typo in a field",
      (r) => withObj(r, "atplatform:redis", { replicas: 2 }),
      "atplatform:redis.replicas",
    ],
    [
      "fractional nodes",
      (r) => withObj(r, "atplatform:directoryCluster", { maxNodesPerZone: 1.5 }),
      "atplatform:directoryCluster.maxNodesPerZone",
    ],
    [
      "min above max",
      (r) => withObj(r, "atplatform:directoryCluster", { minNodesPerZone: 3, maxNodesPerZone: 2 }),
      "atplatform:directoryCluster.maxNodesPerZone",
    ],
    [
      "missing image when the stack does not build",
      (r) => ({ ...r, "atplatform:directory": "{}", "atplatform:buildImages": "false" }),
      "atplatform:directory.image",
    ],
    [
      "bad image",
      (r) => withObj(r, "atplatform:directory", { image: "Not an image" }),
      "atplatform:directory.image",
    ],
    [
      "bad bool",
      (r) => ({ ...r, "atplatform:deletionProtection": "yes" }),
      "atplatform:deletionProtection",
    ],
    [
      "world control plane",
      (r) => ({ ...r, "atplatform:authorizedNetworks": '["0.0.0.0/0"]' }),
      "atplatform:authorizedNetworks[0]",
    ],
    ["bad rootTls", (r) => ({ ...r, "atplatform:rootTls": "acme" }), "atplatform:rootTls"],
    ["broken JSON", (r) => ({ ...r, "atplatform:redis": "{replicaCount" }), "atplatform:redis"],
    [
      "swarm range with a swarm port",
      (r) => withSwarm(r, { ports: "2000-3000" }),
      "atplatform:swarms[0].ports",
    ],
    [
      "swarm range below 1024",
      (r) => withSwarm(r, { ports: "1000-2000" }),
      "atplatform:swarms[0].ports",
    ],
    [
      "descending swarm range",
      (r) => withSwarm(r, { ports: "30000-25000" }),
      "atplatform:swarms[0].ports",
    ],
    ["bad swarm name", (r) => withSwarm(r, { name: "Swarm_1" }), "atplatform:swarms[0].name"],
    [
      "swarm without ports",
      (r) => withSwarm(r, { ports: undefined }),
      "atplatform:swarms[0].ports",
    ],
    [
      "workers max below min",
      (r) => withSwarm(r, { minWorkers: 4, maxWorkers: 2 }),
      "atplatform:swarms[0].maxWorkers",
    ],
    ["typo in a swarm field", (r) => withSwarm(r, { workers: 2 }), "atplatform:swarms[0].workers"],
    [
      "duplicate swarm names",
      (r) => ({ ...r, "atplatform:swarms": JSON.stringify([swarm0(r), swarm0(r)]) }),
      "atplatform:swarms",
    ],
    [
      "unknown filestore tier",
      (r) => withObj(r, "atplatform:filestore", { tier: "PREMIUM" }),
      "atplatform:filestore.tier",
    ],
    [
      "tiny filestore",
      (r) => withObj(r, "atplatform:filestore", { capacityGb: 100 }),
      "atplatform:filestore.capacityGb",
    ],
    [
      "acme without e-mail",
      (r) => ({ ...r, "atplatform:swarmTls": "acme" }),
      "atplatform:acmeEmail",
    ],
    [
      "swarms without an atServer image when the stack does not build",
      (r) => ({
        ...withObj(r, "atplatform:directory", { image: "gcr.io/p/d:1" }),
        "atplatform:atserverImage": undefined,
        "atplatform:buildImages": "false",
      }),
      "atplatform:atserverImage",
    ],
    [
      "bad atServer image",
      (r) => ({ ...r, "atplatform:atserverImage": "Bad Image" }),
      "atplatform:atserverImage",
    ],
    [
      "an atServer image from Docker Hub (swarm nodes pull only from Artifact Registry)",
      (r) => ({
        ...r,
        "atplatform:atserverImage": `docker.io/library/busybox@sha256:${"a".repeat(64)}`,
      }),
      "atplatform:atserverImage",
    ],
    [
      "a prod atServer image by tag only (prod pins digests in config)",
      () => ({
        ...stackConfig("prod"),
        "atplatform:atserverImage":
          "europe-west2-docker.pkg.dev/atplatform-dev/atplatform/atserver:1.0",
      }),
      "atplatform:atserverImage",
    ],
    [
      "bad swarmTls",
      (r) => ({ ...r, "atplatform:swarmTls": "letsencrypt" }),
      "atplatform:swarmTls",
    ],
  ];
  for (const [what, mutate, key] of cases) {
    it(`rejects ${what}, naming ${key}`, () => {
      const e = failure(mutate(dev()));
      expect(e.key).to.equal(key);
      expect(e.message).to.contain(key);
    });
  }

  it("B3: images are built by default; prod accepts configured overrides only pinned by digest", () => {
    expect(parseConfig(dev(), stackSecrets()).buildImages).to.equal(true);
    const tagged = "europe-west1-docker.pkg.dev/p-roject/r/atdirectory:1.0.0";
    expect(
      failure(withObj(stackConfig("prod"), "atplatform:directory", { image: tagged })).key,
    ).to.equal("atplatform:directory.image");
    expect(
      failure(withObj(stackConfig("prod"), "atplatform:registrar", { image: tagged })).key,
    ).to.equal("atplatform:registrar.image");
    const pinned = `${tagged}@sha256:${"b".repeat(64)}`;
    const cfg = parseConfig(
      withObj(stackConfig("prod"), "atplatform:directory", { image: pinned }),
      stackSecrets(),
    );
    expect(cfg.directory.image).to.equal(pinned);
  });

  it("13: Filestore sizes the API rejects are refused naming the key; what it accepts passes", () => {
    const fs = (tier: string, capacityGb: number) =>
      withObj(dev(), "atplatform:filestore", { tier, capacityGb });
    for (const [tier, gb] of [
      ["BASIC_SSD", 1024],
      ["BASIC_HDD", 70000],
      ["REGIONAL", 1100],
      ["ZONAL", 11000],
      ["ENTERPRISE", 12288],
    ] as const) {
      const e = failure(fs(tier, gb));
      expect(e.key, `${tier} ${gb}`).to.equal("atplatform:filestore.capacityGb");
      expect(e.message).to.contain(tier);
    }
    // The config check and the API rule the mocks enforce agree on every tier.
    for (const tier of Object.keys(FILESTORE_LIMITS))
      for (const gb of [1024, 1280, 2560, 9984, 10240, 12800, 65434, 102400]) {
        const apiOk =
          resourceRules("gcp:filestore/instance:Instance", "x", {
            tier,
            fileShares: { capacityGb: gb },
          }).length === 0;
        let configOk = true;
        try {
          parseConfig(fs(tier, gb), stackSecrets());
        } catch {
          configOk = false;
        }
        expect(configOk, `${tier} ${gb}`).to.equal(apiOk);
      }
  });

  it("prod insists on a zone-redundant Filestore tier", () => {
    const e = failure(withObj(stackConfig("prod"), "atplatform:filestore", { tier: "BASIC_HDD" }));
    expect(e.key).to.equal("atplatform:filestore.tier");
  });

  it("prod insists on deletion protection and a single-replica-free Redis", () => {
    expect(
      failure({ ...stackConfig("prod"), "atplatform:deletionProtection": "false" }).key,
    ).to.equal("atplatform:deletionProtection");
    expect(
      failure(withObj(stackConfig("prod"), "atplatform:redis", { replicaCount: 1 })).key,
    ).to.equal("atplatform:redis.replicaCount");
  });

  it("a provided root certificate must be set as secrets and be PEM", async () => {
    expect(failure(stackConfig("prod"), {}).key).to.equal("atplatform:rootTlsCert");
    const cfg = parseConfig(stackConfig("prod"), {
      ...stackSecrets(),
      "atplatform:rootTlsCert": pulumi.secret("not a pem"),
      "atplatform:rootTlsKey": pulumi.secret(
        "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
      ),
    });
    if (cfg.rootTls.mode !== "provided") throw new Error("expected provided");
    let err: unknown;
    try {
      await valueOf(cfg.rootTls.certPem);
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.contain("atplatform:rootTlsCert");
  });

  it("loadConfig reads the Pulumi config of the stack and names the key it rejects", () =>
    exclusive(async () => {
      await useMocks();
      const raw = stackConfig("dev");
      const all = Object.fromEntries(
        Object.entries(raw).filter(([, v]) => v !== undefined),
      ) as Record<string, string>;
      pulumi.runtime.setAllConfig(all);
      expect(loadConfig().zones).to.have.length(3);
      pulumi.runtime.setAllConfig({
        ...all,
        "atplatform:redis": JSON.stringify({ replicaCount: 9 }),
      });
      expect(() => loadConfig()).to.throw(ConfigError, "atplatform:redis.replicaCount");
      pulumi.runtime.setAllConfig({});
    }));
});
