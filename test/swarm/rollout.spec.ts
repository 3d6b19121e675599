// Image roll-outs on a real Docker Engine in swarm mode: the registrar's RolloutController
// driving SwarmOrchestrator over the Engine API (mutual TLS). Two atServers with data; a new
// tag of the image rolls both, batch by batch; a broken image (its atServer never answers
// info:brief) stops the roll-out after the first batch, that service is put back on the image
// it ran, still answering with its data, and the other one is never touched.
import "../registrar/quiet";
import { expect } from "chai";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateRsaKeyPair } from "@atplatform/protocol";
import { infoBriefProbe, RegistrarStore } from "@atplatform/registrar";
import {
  SwarmOrchestrator,
  type SwarmOrchestratorConfig,
} from "../../services/registrar/src/orchestrator/swarm";
import { serviceName } from "../../services/registrar/src/orchestrator/swarm/service-spec";
import { RolloutController } from "../../services/registrar/src/rollout/rollout-controller";
import type { AtSignRecord } from "../../services/registrar/src/store/types";
import type { TestDockerd } from "../support/docker/dockerd";
import {
  ownedDir,
  tempDir,
  tlsFiles,
  waitForAtServer,
  type Images,
  type TlsFiles,
  publishWildcard,
  testOrchestratorConfig,
  testSwarm,
} from "./harness";
import { sharedSwarm } from "./shared";

const ATSIGNS = ["rolla", "rollb"];
const PORT = { rolla: 30051, rollb: 30052 } as Record<string, number>;
const cram = (a: string) => `cram-secret-${a}-`.padEnd(64, "0");

describe("swarm tier on a real Docker Engine: image roll-outs", function () {
  this.timeout(600_000);
  let d: TestDockerd;
  let images: Images;
  let dir: string;
  let tls: TlsFiles;
  let cfg: SwarmOrchestratorConfig;
  let store: RegistrarStore;
  const pkam: Record<string, string> = {};
  const secretFile = (a: string) => join(dir, `${a}.cram`);

  /** A registrar's view: an orchestrator whose swarm is configured with `image`. */
  function controllerFor(
    image: string,
    batchSize = 1,
  ): { orch: SwarmOrchestrator; c: RolloutController } {
    const orch = new SwarmOrchestrator({ ...cfg, swarms: [{ ...cfg.swarms[0]!, image }] });
    const c = new RolloutController({
      store,
      images: orch,
      placements: {
        placementOf: (rec: AtSignRecord) => ({
          swarm: "blue",
          host: rec.host!,
          port: rec.port!,
        }),
        secretFile: (rec: AtSignRecord) => secretFile(rec.atsign),
      },
      healthProbe: infoBriefProbe({ ca: tls.ca }),
      config: {
        auto: false,
        batchSize,
        batchPauseMs: 0,
        maxFailures: 0,
        healthTimeoutMs: 5000,
      },
    });
    return { orch, c };
  }

  async function serviceImage(atsign: string): Promise<string> {
    const out = await d.docker([
      "service",
      "inspect",
      "-f",
      '{{index .Spec.Labels "atplatform.image"}}',
      serviceName(atsign),
    ]);
    return out.stdout.trim();
  }

  /** The running container's image and its atServer answering with the atSign's data. */
  async function answersWithData(atsign: string, image: string): Promise<void> {
    const ps = await d.docker([
      "ps",
      "--filter",
      `label=com.docker.swarm.service.name=${serviceName(atsign)}`,
      "--format",
      "{{.Image}}",
    ]);
    expect(ps.stdout.trim().split("@")[0]).to.equal(image);
    const c = await waitForAtServer(d.address, PORT[atsign]!, tls.ca, `@${atsign}`, 60_000);
    await c.pkam(pkam[atsign]!);
    expect(await c.execute(`llookup:public:home@${atsign}`)).to.equal(`home-of-${atsign}`);
    await c.close();
  }

  before(async () => {
    let swarm;
    ({ swarm, images } = await sharedSwarm());
    d = swarm.leader;
    dir = tempDir("atp-rollout-");
    const storageRoot = ownedDir(dir, "atservers");
    tls = await tlsFiles(dir, [d.address]);
    // The wildcard pair the swarm's maintenance job publishes (another spec may have made one).
    const have = await d.docker([
      "secret",
      "ls",
      "--filter",
      "label=atplatform.tls=wildcard",
      "-q",
    ]);
    if (!have.stdout.trim()) await publishWildcard(d, tls, "roll0001");
    cfg = testOrchestratorConfig(
      [
        testSwarm(d, {
          name: "blue",
          minPort: 30050,
          maxPort: 30059,
          image: images.atserver,
          storageRoot,
        }),
      ],
      images,
      `${d.address}:6400`,
      // Short, so the suite stays fast; production keeps the 10 s default.
      { updateMonitorMs: 3000, updateTimeoutMs: 180_000 },
    );
    store = new RegistrarStore(join(dir, "registrar.sqlite"));
    const swarmPorts = { name: "blue", host: d.address, minPort: 30051, maxPort: 30059 };
    const orch = new SwarmOrchestrator(cfg);
    // Two active atSigns on the first image, each with a value stored under PKAM.
    for (const a of ATSIGNS) {
      writeFileSync(secretFile(a), cram(a), { mode: 0o600 });
      store.reserve(a, { activationKey: `k-${a}` });
      let rec: AtSignRecord | undefined = store.request(a, cram(a));
      rec = store.allocate(rec, swarmPorts, PORT[a]!) as AtSignRecord;
      for (const st of ["atserver_started", "healthy", "directory_written", "active"] as const)
        rec = store.transition(rec!, st);
    }
    // Both at once: each provision is mostly vfs copying the image for the container.
    await Promise.all(
      ATSIGNS.map((a) =>
        orch.ensure(a, { swarm: "blue", host: d.address, port: PORT[a]! }, secretFile(a)),
      ),
    );
    for (const a of ATSIGNS) {
      const c = await waitForAtServer(d.address, PORT[a]!, tls.ca, `@${a}`);
      await c.cram(cram(a));
      const keys = generateRsaKeyPair();
      pkam[a] = keys.privateKey;
      await c.execute(`update:privatekey:at_pkam_publickey ${keys.publicKey}`);
      await c.pkam(keys.privateKey);
      await c.execute(`update:public:home@${a} home-of-${a}`);
      await c.close();
    }
    await orch.close();
  });
  after(async () => {
    store?.close();
    for (const a of ATSIGNS)
      await d?.docker(["service", "rm", serviceName(a)]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ensure with a newly configured image keeps a running service's image (only a roll-out changes it)", async () => {
    const v2 = `${images.atserver.split(":")[0]}:roll-v2`;
    await d.docker(["tag", images.atserver, v2]);
    const { orch, c } = controllerFor(v2);
    await orch.ensure(
      "rolla",
      { swarm: "blue", host: d.address, port: 30051 },
      secretFile("rolla"),
    );
    expect(await serviceImage("rolla")).to.equal(images.atserver);
    expect(await c.outdated()).to.deep.equal({ active: 2, suspended: 0 });
    await orch.close();
  });

  it("a new tag rolls both atServers (one batch of two: batching itself is test/registrar/rollout.spec.ts); each answers with its data on the new image", async () => {
    const v2 = `${images.atserver.split(":")[0]}:roll-v2`;
    const { orch, c } = controllerFor(v2, 2);
    const started = Date.now();
    await c.start();
    await c.idle();
    const st = c.status()!;
    expect(st, JSON.stringify(st)).to.deep.include({ state: "completed", batch: 1 });
    expect(st.counts).to.include({ done: 2, failed: 0 });
    console.log(`      (two atServers rolled in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    for (const a of ATSIGNS) {
      expect(await serviceImage(a)).to.equal(v2);
      await answersWithData(a, v2);
    }
    await orch.close();
  });

  it("a broken image stops the roll-out after the first batch; that service is put back and answers with its data; the other is untouched", async () => {
    const v2 = `${images.atserver.split(":")[0]}:roll-v2`;
    const broken = `${images.atserver.split(":")[0]}:roll-broken`;
    // A tiny layer on the same image: the process runs but never serves the atProtocol.
    const ctx = join(dir, "broken");
    mkdirSync(ctx);
    writeFileSync(
      join(ctx, "Dockerfile"),
      `FROM ${v2}\nENTRYPOINT ["node", "-e", "setInterval(() => {}, 1 << 30)"]\n`,
    );
    await d.docker(["build", "-q", "-t", broken, ctx]);
    const { orch, c } = controllerFor(broken);
    const started = Date.now();
    await c.start();
    await c.idle();
    const st = c.status()!;
    console.log(`      (stopped and reverted in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    expect(st.state, JSON.stringify(st)).to.equal("stopped");
    expect(st.batch).to.equal(1);
    expect(st.counts).to.include({ failed: 1, pending: 1, done: 0 });
    expect(st.failures[0]!.atsign).to.equal("rolla");
    expect(st.failures[0]!.detail).to.match(/no info:brief answer.*reverted to .*roll-v2/);
    expect(st.stoppedReason).to.match(/1 atServer\(s\) failed/);
    expect(await serviceImage("rolla")).to.equal(v2);
    expect(await serviceImage("rollb")).to.equal(v2);
    await answersWithData("rolla", v2);
    await answersWithData("rollb", v2);
    await orch.close();
  });
});
