// Contract: the swarms file the stack gives the registrar parses with the registrar's own
// parser, and every PEM file it names is a key of the mounted per-swarm Secret.
import { expect } from "chai";
import { parseSwarmOrchestratorConfig } from "@atplatform/registrar/src/orchestrator/swarm";
import { SWARM_SECRETS_MOUNT } from "../../components/registrar-swarms";
import { valueOf } from "./mocks";
import { buildStack } from "./stack";

describe("components: registrar swarms file", () => {
  for (const env of ["dev", "prod"]) {
    it(`the registrar's swarms file (${env}) is what services/registrar parses`, async () => {
      const { rec, cfg, out } = await buildStack(env);
      const atServerImage = cfg.atserverImage ?? (await valueOf(out.images.atserver!));
      const file = rec.one("kubernetes:core/v1:Secret", "registrar-swarms");
      expect(file.provider).to.match(/::registrar-k8s::/);
      const text = file.inputs.stringData["swarms.json"] as string;
      // Files are read from the per-swarm Secrets as the Deployment will mount them.
      const readFile = (path: string): string => {
        const m = new RegExp(`^${SWARM_SECRETS_MOUNT}/([^/]+)/([^/]+)$`).exec(path);
        if (!m) throw new Error(`unexpected path ${path}`);
        const data = rec.one("kubernetes:core/v1:Secret", `${m[1]}-registrar`).inputs.stringData;
        if (!(m[2]! in data)) throw new Error(`swarm-${m[1]} has no ${m[2]}`);
        return data[m[2]!];
      };
      const parsed = parseSwarmOrchestratorConfig(text, readFile);
      expect(parsed.rootAddress).to.equal(`root.${cfg.domain}:64`);
      expect(parsed.swarms.map((s) => s.name)).to.deep.equal(cfg.swarms.map((s) => s.name));
      for (const s of parsed.swarms) {
        const want = cfg.swarms.find((x) => x.name === s.name)!;
        const ilb = rec.one("gcp:compute/forwardingRule:ForwardingRule", `${s.name}-docker`).inputs;
        expect(s.engine.host).to.equal(ilb.ipAddress);
        expect(s.engine.port).to.equal(2376);
        expect(s.engine.key).to.contain("PRIVATE KEY");
        expect(s.publicHost).to.equal(`${s.name}.${cfg.domain}`);
        expect([s.minPort, s.maxPort]).to.deep.equal([want.firstPort, want.lastPort]);
        expect(s.image).to.equal(atServerImage);
        expect(s.storageRoot).to.equal("/srv/atplatform/atservers");
        expect(s.atServerCa !== undefined).to.equal(cfg.swarmTls.mode === "private-ca");
      }
    });
  }
});
