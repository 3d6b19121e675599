import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { settle, useMocks } from "./mocks";
import { buildStack, exclusive, stackConfig, TEST_PEM_CERT, TEST_PEM_KEY } from "./stack";

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

  for (const env of ["dev", "prod"]) {
    it(`a preview-mode run (${env}, nothing computed yet) does not crash`, async () => {
      const { rec, out } = await buildStack(env, { preview: true });
      expect(rec.all("kubernetes:core/v1:Service")).to.have.length(1);
      expect(rec.all("kubernetes:apps/v1:Deployment")).to.have.length(1);
      expect(await (out.rootIp as any).isKnown).to.equal(false);
      expect(out.rootAddress).to.match(/^root\..+:64$/);
    });
  }

  it("index.ts loads the stack's config and exports the platform's outputs", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const raw = stackConfig("prod");
      const all: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) if (v !== undefined) all[k] = v;
      all["atplatform:rootTlsCert"] = TEST_PEM_CERT;
      all["atplatform:rootTlsKey"] = TEST_PEM_KEY;
      pulumi.runtime.setAllConfig(all, ["atplatform:rootTlsCert", "atplatform:rootTlsKey"]);
      try {
        const program = require("../../index");
        await settle();
        expect(program.rootAddress).to.equal("root.atplatform.example:64");
        for (const k of [
          "clusterName",
          "redisPrimaryEndpoint",
          "redisReadEndpoint",
          "redisAuth",
          "registryUrl",
        ])
          expect(pulumi.Output.isInstance(program[k]), k).to.equal(true);
        expect(await (program.redisAuth as any).isSecret).to.equal(true);
        expect(rec.all("gcp:redis/instance:Instance")).to.have.length(1);
      } finally {
        pulumi.runtime.setAllConfig({});
      }
    }));
});
