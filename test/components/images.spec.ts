// Images: the gated docker-build component, the config rules around it, and static checks of
// the Dockerfiles (no Docker engine here, so they are not built in tests).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseConfig } from "../../components/config";
import { REPO_ROOT, ServiceImage, sourceDigest } from "../../components/service-image";
import { secretAt, settle, useMocks, valueOf } from "./mocks";
import { buildStack, exclusive, ROOT, stackConfig, stackSecrets } from "./stack";

const SERVICES = {
  directory: "atdirectory",
  atserver: "atserver",
  registrar: "registrar",
} as const;

describe("components: service images", () => {
  it("builds from services/<svc>/Dockerfile at the repo root, pushes to the registry, never on preview", () =>
    exclusive(async () => {
      const rec = await useMocks();
      const img = new ServiceImage("directory-image", {
        service: "directory",
        region: "europe-west2",
        registryUrl: "europe-west2-docker.pkg.dev/test-proj/atplatform",
        cacheUrl: "europe-west2-docker.pkg.dev/test-proj/atplatform-cache",
        tag: "dev",
      });
      await settle();
      const r = rec.one("docker-build:index:Image");
      expect(r.inputs).to.deep.include({
        push: true,
        buildOnPreview: false,
        platforms: ["linux/amd64"],
      });
      expect(r.inputs.context.location).to.equal(ROOT);
      expect(existsSync(r.inputs.dockerfile.location)).to.equal(true);
      expect(r.inputs.tags).to.deep.equal([
        `europe-west2-docker.pkg.dev/test-proj/atplatform/directory:dev-${sourceDigest("directory")}`,
      ]);
      expect(r.inputs.cacheFrom[0].registry.ref).to.equal(
        "europe-west2-docker.pkg.dev/test-proj/atplatform-cache/directory:cache",
      );
      expect(r.inputs.cacheTo[0].registry).to.deep.include({ mode: "max", ignoreError: true });
      expect(r.inputs.registries[0]).to.deep.include({
        address: "europe-west2-docker.pkg.dev",
        username: "oauth2accesstoken",
      });
      expect(secretAt(r.rawInputs, ["registries", 0, "password"])).to.equal(true);
      expect(rec.calls).to.deep.equal(["gcp:organizations/getClientConfig:getClientConfig"]);
      expect(await valueOf(img.ref)).to.match(/\/directory:dev-[a-f0-9]{16}@sha256:[a-f0-9]{64}$/);
    }));

  it("the directory image is required only when the stack does not build images", () => {
    const raw = { ...stackConfig("dev"), "atplatform:directory": "{}" };
    expect(() =>
      parseConfig({ ...raw, "atplatform:buildImages": "false" }, stackSecrets()),
    ).to.throw("atplatform:directory.image");
    const built = parseConfig(raw, stackSecrets());
    expect(built.directory.image).to.equal(undefined);
    expect(built.imageTag).to.equal("dev");
  });

  for (const [svc, bin] of Object.entries(SERVICES)) {
    it(`services/${svc}/Dockerfile: workspace-only install, sources that exist, non-root, the service's bin`, () => {
      const text = readFileSync(join(REPO_ROOT, "services", svc, "Dockerfile"), "utf8");
      expect(text).to.contain(
        `npm ci --omit=dev --workspace=services/${svc} --include-workspace-root=false`,
      );
      for (const m of text.matchAll(/^COPY (?!--from)(\S+) /gm))
        expect(existsSync(join(REPO_ROOT, m[1]!)), m[1]).to.equal(true);
      expect(text).to.match(/^USER 1024:1024$/m);
      const entry = /^ENTRYPOINT \["node", "([^"]+)"\]$/m.exec(text);
      if (svc === "atserver") {
        // The atServer image runs the esbuild bundle made in its own build stage.
        expect(entry?.[1]).to.equal("services/atserver/dist/atserver.js");
        expect(text).to.match(/^RUN npm run bundle -w services\/atserver$/m);
        expect(text).to.contain(
          "COPY --from=bundle /app/services/atserver/dist services/atserver/dist",
        );
        const pkg = JSON.parse(
          readFileSync(join(REPO_ROOT, "services", "atserver", "package.json"), "utf8"),
        ) as { scripts: Record<string, string> };
        expect(pkg.scripts.bundle).to.contain("--outfile=dist/atserver.js");
        // The swarm nodes' metrics agent is the image's second program (the global service
        // runs `node services/atserver/dist/metrics-agent.js`).
        expect(pkg.scripts.bundle).to.contain("--outfile=dist/metrics-agent.js");
      } else {
        expect(entry?.[1]).to.equal(`services/${svc}/bin/${bin}.js`);
        expect(existsSync(join(REPO_ROOT, entry![1]!))).to.equal(true);
      }
      const ignore = readFileSync(
        join(REPO_ROOT, "services", svc, "Dockerfile.dockerignore"),
        "utf8",
      );
      expect(ignore).to.match(/^\*\*\/node_modules$/m);
    });
  }

  it("8: a build's tag names its sources: unchanged sources keep it, any change gives a new one", () => {
    const root = mkdtempSync(join(tmpdir(), "atp-src-"));
    try {
      for (const d of ["services/protocol/src", "services/atserver/src", "services/directory"])
        mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, "package.json"), "{}");
      writeFileSync(join(root, "package-lock.json"), "{}");
      writeFileSync(join(root, "services/atserver/src/a.ts"), "one");
      writeFileSync(join(root, "services/protocol/src/p.ts"), "p");
      const a = sourceDigest("atserver", root);
      expect(sourceDigest("atserver", root)).to.equal(a);
      writeFileSync(join(root, "services/protocol/src/p.ts"), "p2");
      const b = sourceDigest("atserver", root);
      expect(b).to.not.equal(a);
      writeFileSync(join(root, "services/directory/package.json"), "{}");
      expect(sourceDigest("atserver", root)).to.not.equal(b);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

for (const env of ["dev", "prod"]) {
  describe(`components: image registry (${env})`, () => {
    it("8: no cleanup rule can delete a digest a workload pins; prod tags are immutable", async () => {
      const { rec, cfg } = await buildStack(env);
      const repo = rec.one("gcp:artifactregistry/repository:Repository", "atplatform").inputs;
      expect(repo.dockerConfig.immutableTags).to.equal(cfg.env === "prod");
      expect((repo.cleanupPolicies ?? []).filter((p: any) => p.action === "DELETE")).to.deep.equal(
        [],
      );
      // Every image the stack pushes has a tag of its own (no tag is ever moved).
      const tags = rec.all("docker-build:index:Image").map((i) => i.inputs.tags[0] as string);
      expect(tags.length).to.be.greaterThan(0);
      for (const t of tags) expect(t).to.match(/:[\w.]+-[a-f0-9]{16}$/);
    });
  });
}
