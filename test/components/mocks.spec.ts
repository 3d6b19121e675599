import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { secretAt, settle, useMocks } from "./mocks";
import { exclusive } from "./stack";

describe("components: the mocks module", () => {
  it("records type, name, inputs (secrets still marked) and the explicit provider", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const provider = new gcp.Provider("p", { project: "test-proj" });
      new gcp.secretmanager.Secret(
        "s",
        { secretId: "abc", replication: { auto: {} }, labels: { k: pulumi.secret("v") } },
        { provider },
      );
      await settle();
      const s = rec.one("gcp:secretmanager/secret:Secret", "s");
      expect(s.inputs).to.deep.include({ secretId: "abc", labels: { k: "v" } });
      expect(secretAt(s.rawInputs, ["labels", "k"])).to.equal(true);
      expect(secretAt(s.rawInputs, ["secretId"])).to.equal(false);
      expect(s.provider).to.match(/::p::p_id$/);
      expect(rec.one("pulumi:providers:gcp").name).to.equal("p");
    }));

  it("refuses provider function calls nobody mocked", () =>
    exclusive(async () => {
      const rec = await useMocks();
      let error: unknown;
      try {
        await gcp.compute.getZones({ region: "europe-west2" });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
      expect(rec.refusedCalls).to.deep.equal(["gcp:compute/getZones:getZones"]);
    }));
});
