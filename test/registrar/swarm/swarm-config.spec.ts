import "../quiet";
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  parseSwarmOrchestratorConfig,
  SwarmConfigError,
  swarmOrchestratorFromEnv,
} from "../../../services/registrar/src/orchestrator/swarm";
import { testTls } from "../../support/test-ca";

describe("registrar swarm orchestrator configuration", () => {
  let dir: string;
  let files: { ca: string; cert: string; key: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "atp-swarm-cfg-"));
    files = (await testTls()).files;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const swarm = (over: Record<string, unknown> = {}) => ({
    engine: "10.20.0.5:2376",
    caFile: files.ca,
    certFile: files.cert,
    keyFile: files.key,
    publicHost: "blue.atplatform.example",
    ports: "30000-30999",
    image: "registry.example/atserver@sha256:00",
    storageRoot: "/srv/atplatform/atservers",
    ...over,
  });

  it("reads the swarms file: engine endpoint, PEMs from files, port range, settings", () => {
    const cfg = parseSwarmOrchestratorConfig(
      JSON.stringify({
        rootAddress: "root.atplatform.example:64",
        memoryLimitMb: 64,
        callTimeoutMs: 5000,
        swarms: {
          blue: swarm(),
          green: swarm({
            ports: "31000-31099",
            publicHost: "green.x",
            publishMode: "host",
            dockerSocket: "/run/docker.sock",
          }),
        },
      }),
    );
    // The routing mesh unless a swarm says otherwise.
    expect(cfg.swarms.map((s) => s.publishMode)).to.deep.equal([undefined, "host"]);
    // The metrics agent's socket: /var/run/docker.sock unless a swarm says otherwise.
    expect(cfg.swarms.map((s) => s.dockerSocket)).to.deep.equal([undefined, "/run/docker.sock"]);
    expect(cfg.rootAddress).to.equal("root.atplatform.example:64");
    expect(cfg.memoryLimitMb).to.equal(64);
    expect(cfg.callTimeoutMs).to.equal(5000);
    expect(cfg.swarms.map((s) => [s.name, s.minPort, s.maxPort])).to.deep.equal([
      ["blue", 30000, 30999],
      ["green", 31000, 31099],
    ]);
    expect(cfg.swarms[0]!.engine.host).to.equal("10.20.0.5");
    expect(cfg.swarms[0]!.engine.port).to.equal(2376);
    expect(cfg.swarms[0]!.engine.key).to.include("PRIVATE KEY");
  });

  it("rejects bad values with a message naming the swarm and the field", () => {
    const bad = (body: Record<string, unknown>, msg: RegExp) =>
      expect(() =>
        parseSwarmOrchestratorConfig(JSON.stringify({ rootAddress: "r:64", ...body })),
      ).to.throw(SwarmConfigError, msg);
    bad({ swarms: {} }, /at least one swarm/);
    bad({ swarms: { blue: swarm({ engine: "10.0.0.1" }) } }, /blue: engine must be host:port/);
    bad({ swarms: { blue: swarm({ ports: "3000-2000" }) } }, /blue: bad port range/);
    bad({ swarms: { blue: swarm({ storageRoot: "srv" }) } }, /blue: storageRoot/);
    bad({ swarms: { blue: swarm({ caFile: join(dir, "x.txt") }) } }, /ENOENT|no such file/);
    bad({ swarms: { Blue: swarm() } }, /swarm name Blue/);
    bad({ swarms: { blue: swarm({ publishMode: "dnsrr" }) } }, /blue: publishMode/);
    bad({ swarms: { blue: swarm({ dockerSocket: "docker.sock" }) } }, /blue: dockerSocket/);
    bad({ memoryLimitMb: 2, swarms: { blue: swarm() } }, /memoryLimitMb/);
    bad({ callTimeoutMs: "10", swarms: { blue: swarm() } }, /callTimeoutMs must be a number/);
    expect(() => parseSwarmOrchestratorConfig("{")).to.throw(SwarmConfigError, /not JSON/);
  });

  it("from the environment: REGISTRAR_SWARMS_FILE, root defaulting to REGISTRAR_ROOT", () => {
    const file = join(dir, "swarms.json");
    writeFileSync(file, JSON.stringify({ swarms: { blue: swarm() } }));
    const { orchestrator, swarms } = swarmOrchestratorFromEnv({
      REGISTRAR_SWARMS_FILE: file,
      REGISTRAR_ROOT: "root.atplatform.example:64",
    });
    expect(orchestrator.name).to.equal("swarm");
    expect(swarms).to.deep.equal([
      { name: "blue", host: "blue.atplatform.example", minPort: 30000, maxPort: 30999 },
    ]);
    expect(() => swarmOrchestratorFromEnv({})).to.throw(SwarmConfigError, /REGISTRAR_SWARMS_FILE/);
  });
});
