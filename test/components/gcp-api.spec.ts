// The committed stacks against what the Google Cloud API does with them (gcp-rules.ts): no
// value the API rejects, and resources that behave as intended once created.
import { expect } from "chai";
import { migInstances, resourceRules, unbuiltImages, workloadImages } from "./gcp-rules";
import { buildStack } from "./stack";

for (const env of ["dev", "prod"]) {
  describe(`components: GCP API semantics (${env})`, () => {
    it("nothing in the stack is a value the GCP API rejects", async () => {
      const { rec } = await buildStack(env);
      expect(rec.apiViolations).to.deep.equal([]);
    });

    it("B1: each swarm runs exactly three managers, named -mgr-0..2, on the first up and on every later up", async () => {
      const { rec, cfg } = await buildStack(env);
      for (const sw of cfg.swarms) {
        const m = migInstances(rec.resources, `${sw.name}-managers`);
        expect(m, sw.name).to.deep.equal({
          firstUp: 3,
          reUp: 3,
          named: [0, 1, 2].map((i) => `${sw.name}-mgr-${i}`),
        });
      }
    });
  });
}

describe("components: GCP API rules (the checks themselves)", () => {
  const violations = (type: string, inputs: Record<string, unknown>) =>
    resourceRules(type, "x", inputs).map((v) => v.message);

  it("Filestore capacities outside a tier's range are rejected, inside accepted", () => {
    const fs = (tier: string, capacityGb: number) =>
      violations("gcp:filestore/instance:Instance", { tier, fileShares: { capacityGb } });
    expect(fs("BASIC_SSD", 1024)).to.have.length(1);
    expect(fs("BASIC_SSD", 2560)).to.deep.equal([]);
    expect(fs("BASIC_HDD", 70000)).to.have.length(1);
    expect(fs("REGIONAL", 1100)).to.have.length(1); // not a 256 GiB step
    expect(fs("REGIONAL", 2560)).to.deep.equal([]);
    expect(fs("ENTERPRISE", 12288)).to.have.length(1);
  });

  it("a regional MIG's update policy follows the zone-count and RECREATE rules", () => {
    const mig = (updatePolicy: Record<string, unknown>) =>
      violations("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", {
        distributionPolicyZones: ["a", "b", "c"],
        updatePolicy,
      });
    expect(mig({ maxSurgeFixed: 1, maxUnavailableFixed: 0 })).to.have.length(1);
    expect(mig({ maxSurgeFixed: 0, maxUnavailableFixed: 0 })).to.have.length(1);
    expect(
      mig({ replacementMethod: "RECREATE", maxSurgeFixed: 3, maxUnavailableFixed: 0 }),
    ).to.have.length(2);
    expect(mig({ maxSurgeFixed: 3, maxUnavailableFixed: 0 })).to.deep.equal([]);
  });

  it("per-instance configs add to a MIG's target size; a set target size is restored by the next up", () => {
    const resources = [
      {
        type: "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
        name: "m",
        inputs: { name: "m-1", targetSize: 3 },
      },
      ...[0, 1, 2].map((i) => ({
        type: "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig",
        name: `p${i}`,
        inputs: { name: `m-${i}`, regionInstanceGroupManager: "m-1" },
      })),
    ];
    expect(migInstances(resources, "m")).to.deep.include({ firstUp: 6, reUp: 3 });
  });
});

for (const env of ["dev", "prod"]) {
  describe(`components: first up of the committed ${env} stack`, () => {
    it("B3: every image a workload runs is built and pushed by the same up, and deployed by digest", async () => {
      const { rec, cfg } = await buildStack(env);
      expect(unbuiltImages(rec.resources, cfg.project)).to.deep.equal([]);
      const images = workloadImages(rec.resources);
      expect(images.map((i) => i.where)).to.include.members([
        "atdirectory/atdirectory",
        "registrar/registrar",
        ...cfg.swarms.map((s) => `registrar-swarms/${s.name}`),
      ]);
      for (const { where, image } of images) expect(image, where).to.match(/@sha256:[a-f0-9]{64}$/);
    });
  });
}

for (const env of ["dev", "prod"]) {
  describe(`components: first up on a fresh project (${env})`, () => {
    it("12: every Google Cloud resource waits for the project's APIs to be enabled", async () => {
      const { rec } = await buildStack(env);
      const apis = rec.all("gcp:projects/service:Service").map((s) => s.name);
      expect(apis).to.include("apis-compute");
      const early = rec.resources
        .filter((r) => r.custom && r.type.startsWith("gcp:") && !apis.includes(r.name))
        .filter((r) => !rec.waitsFor(r.type, r.name).some((d) => apis.includes(d)))
        .map((r) => `${r.type} ${r.name}`);
      expect(early).to.deep.equal([]);
    });
  });
}
