// A move between two real swarms (two dockerds in their own namespaces, both mounting the
// same host directory as the storage share): the atServer stops in the old swarm before it
// starts in the new one, keeps its data and leaves nothing behind in the old swarm.
import "../registrar/quiet";
import { expect } from "chai";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient, generateRsaKeyPair } from "@atplatform/protocol";
import {
  SwarmOrchestrator,
  type SwarmConfig,
} from "../../services/registrar/src/orchestrator/swarm";
import { sleep } from "../support/docker/exec";
import type { TestDockerd } from "../support/docker/dockerd";
import { TestSwarm } from "../support/docker/swarm";
import { copyImages, ownedDir, tempDir, tlsFiles, waitForAtServer, type Images } from "./harness";
import { sharedSwarm } from "./shared";

const CRAM = "cram-secret-dave-".padEnd(64, "0");

describe("swarm tier on a real Docker Engine: a move between two swarms", function () {
  this.timeout(900_000);
  let blue: TestDockerd;
  let green: TestSwarm;
  let images: Images;
  let dir: string;
  let ca: string;
  let orch: SwarmOrchestrator;
  let secretFile: string;

  before(async () => {
    const shared = await sharedSwarm();
    blue = shared.swarm.leader;
    green = await TestSwarm.start({ name: "green" });
    images = shared.images;
    // Only what a move runs there: the atServer and the storage jobs.
    await copyImages(green.leader, [images.atserver, images.jobs]);
    dir = tempDir("atp-move-");
    const storageRoot = ownedDir(dir, "atservers");
    const swarms: SwarmConfig[] = [];
    for (const [name, d, min] of [
      ["blue", blue, 30100],
      ["green", green.leader, 31100],
    ] as const) {
      const tls = await tlsFiles(join(dir, name), [d.address]);
      ca = tls.ca;
      for (const [kind, file] of [
        ["crt", "cert.pem"],
        ["key", "key.pem"],
      ] as const)
        await d.docker([
          "secret",
          "create",
          "--label=atplatform.tls=wildcard",
          `atserver-tls-${kind}-move${name}`,
          join(tls.dir, file),
        ]);
      swarms.push({
        name,
        engine: { host: d.address, port: 2376, ...d.clientTls },
        publicHost: d.address,
        minPort: min,
        maxPort: min + 99,
        image: images.atserver,
        storageRoot,
        constraints: [],
        publishMode: "host",
      });
    }
    secretFile = join(dir, "dave.cram");
    writeFileSync(secretFile, CRAM, { mode: 0o600 });
    orch = new SwarmOrchestrator({
      swarms,
      rootAddress: `${blue.address}:6400`,
      apiVersion: "v1.41",
      jobImage: images.jobs,
      callTimeoutMs: 30_000,
      jobTimeoutMs: 180_000,
      stopTimeoutMs: 120_000,
      pollMs: 250,
    });
  });
  after(async () => {
    await orch?.close();
    await green?.stop();
    await blue
      ?.docker(["secret", "rm", "atserver-tls-crt-moveblue", "atserver-tls-key-moveblue"])
      .catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function running(): Promise<void> {
    const deadline = Date.now() + 180_000;
    while ((await orch.inspect("dave")).state !== "running") {
      if (Date.now() > deadline) throw new Error("dave not running");
      await sleep(500);
    }
  }

  it("blue → green: data kept, the old swarm's service and secrets gone, the new one answers", async () => {
    const from = { swarm: "blue", host: blue.address, port: 30101 };
    const to = { swarm: "green", host: green.leader.address, port: 31101 };
    await orch.ensure("dave", from, secretFile);
    await running();
    const c = await waitForAtServer(blue.address, 30101, ca, "@dave");
    await c.cram(CRAM);
    const pkam = generateRsaKeyPair();
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.execute("update:public:home@dave blue");
    await c.close();

    await orch.move("dave", from, to, secretFile);
    await running();
    const st = (await orch.inspect("dave")) as { placement?: object };
    expect(st.placement).to.deep.include({ swarm: "green", port: 31101 });
    const g = await waitForAtServer(green.leader.address, 31101, ca, "@dave");
    await g.pkam(pkam.privateKey);
    expect(await g.execute("llookup:public:home@dave")).to.equal("blue");
    await g.close();
    for (const what of ["service", "secret"]) {
      const left = await blue.docker([
        what,
        "ls",
        "--filter",
        "label=atplatform.atsign=dave",
        "-q",
      ]);
      expect(left.stdout.trim(), `${what}s left in blue`).to.equal("");
    }
    const refused = await AtClient.connect({
      host: blue.address,
      port: 30101,
      ca,
      atSign: "@dave",
      timeoutMs: 3000,
    }).then(
      (x) => x.close().then(() => false),
      () => true,
    );
    expect(refused).to.equal(true);
    await orch.remove("dave");
  });
});
