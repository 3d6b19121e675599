// The registrar end to end on a real swarm (issue 13 part 5): the registrar with the swarm
// orchestrator, a real atDirectory on a real redis-server, two atSigns registered through
// the v3 API, their atServers running as swarm services from the built image, the directory
// answering their addresses, onboarding with the project's CLI code and a shared key from
// alice read by bob through his atServer's federation to alice's.
import "../registrar/quiet";
import { expect } from "chai";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DirectoryServer, RedisRecordWriter } from "@atplatform/directory";
import { lookupAtServer } from "@atplatform/protocol";
import { infoBriefProbe, LogMailer, Registrar, rootResolver } from "@atplatform/registrar";
import {
  serviceName,
  SwarmOrchestrator,
  swarmPorts,
} from "../../services/registrar/src/orchestrator/swarm";
import type { CliContext } from "../../services/local/src/cli/context";
import { get, put } from "../../services/local/src/cli/data";
import { register } from "../../services/local/src/cli/register";
import type { TestDockerd } from "../support/docker/dockerd";
import { freePort } from "../support/ports";
import { TestRedis } from "../support/redis-server";
import {
  ownedDir,
  tempDir,
  tlsFiles,
  type TlsFiles,
  publishWildcard,
  testOrchestratorConfig,
  testSwarm,
} from "./harness";
import { sharedSwarm } from "./shared";

const REDIS_PASSWORD = "e2e-redis-password-0001";
// Apart from the other specs' ports on the shared swarm (host-mode publishing).
const PORTS = { min: 30200, max: 30299 };

describe("swarm tier on a real Docker Engine: the registrar end to end", function () {
  this.timeout(600_000);
  let d: TestDockerd;
  let hostAddress: string;
  let dir: string;
  let tls: TlsFiles;
  let redis: TestRedis;
  let writer: RedisRecordWriter;
  let directory: DirectoryServer;
  let rootPort: number;
  let orch: SwarmOrchestrator;
  let registrar: Registrar;
  let ctx: CliContext;
  const printed: string[] = [];

  before(async () => {
    const { swarm, images } = await sharedSwarm();
    d = swarm.leader;
    // The host's end of the nodes' bridge: what the atServers' containers reach the
    // directory at (their node routes through it).
    hostAddress = swarm.network.hostAddress;
    dir = tempDir("atp-e2e-");
    // One certificate for the directory (on the host) and the atServers (on the node).
    tls = await tlsFiles(dir, [hostAddress, d.address]);
    await publishWildcard(d, tls, "e2e");

    redis = await TestRedis.start({ password: REDIS_PASSWORD });
    writer = new RedisRecordWriter({ url: redis.url, password: REDIS_PASSWORD });
    rootPort = await freePort();
    directory = await startDirectory(rootPort);

    const cfg = testOrchestratorConfig(
      [
        testSwarm(d, {
          name: "e2e",
          minPort: PORTS.min,
          maxPort: PORTS.max,
          image: images.atserver,
          storageRoot: ownedDir(dir, "atservers"),
          // The atServers verify the directory's and each other's certificates with it.
          atServerCa: tls.ca,
        }),
      ],
      images,
      `${hostAddress}:${rootPort}`,
    );
    orch = new SwarmOrchestrator(cfg);
    const apiKey = "e2e-registrar-api-key-0001";
    registrar = await Registrar.create(
      {
        dataDir: join(dir, "registrar"),
        apiKey,
        adminKey: "e2e-registrar-admin-key-0001",
        bindHost: "127.0.0.1",
        port: 0,
        swarms: swarmPorts(cfg),
        // A cold vfs container start on a loaded machine.
        activationWaitMs: 180_000,
      },
      {
        orchestrator: orch,
        records: writer,
        healthProbe: infoBriefProbe({ ca: tls.ca }),
        rootResolver: rootResolver({ host: hostAddress, port: rootPort, ca: tls.ca }),
        mailer: new LogMailer(() => undefined),
      },
    );
    await registrar.start();
    ctx = {
      root: { host: hostAddress, port: rootPort },
      ca: tls.ca,
      registrarUrl: registrar.url,
      apiKey,
      keysDir: join(dir, "keys"),
      out: (line) => printed.push(line),
    };
  });

  /** An atDirectory on the host's end of the bridge, reading the Redis the registrar writes. */
  async function startDirectory(port: number): Promise<DirectoryServer> {
    const server = await DirectoryServer.create({
      host: hostAddress,
      port,
      httpPort: -1,
      cert: join(tls.dir, "cert.pem"),
      key: join(tls.dir, "key.pem"),
      redis: `redis://127.0.0.1:${redis.port}`,
      redisPassword: REDIS_PASSWORD,
      logLevel: "silent",
    });
    await server.start();
    return server;
  }

  after(async () => {
    for (const a of ["alice", "bob"]) await orch?.remove(a).catch(() => undefined);
    await registrar?.stop();
    await orch?.close();
    await directory?.stop();
    await writer?.close();
    await redis?.stop();
    await d
      ?.docker(["secret", "rm", "atserver-tls-crt-e2e", "atserver-tls-key-e2e"])
      .catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("registers @alice and @bob through the v3 API: swarm services from the image, addresses in the directory, both onboarded", async () => {
    // The CLI's `register @x`: get-atsign + activate-atsign, then CRAM → keys on the atServer
    // the directory names.
    await register(ctx, { positional: ["@alice"], flags: {} });
    await register(ctx, { positional: ["@bob"], flags: {} });
    expect(printed.filter((l) => l.startsWith("onboarded"))).to.have.length(2);
    // A directory started now answers from Redis alone (no copy cached from the writes).
    const fresh = await startDirectory(0);
    try {
      for (const atSign of ["alice", "bob"]) {
        const st = await orch.inspect(atSign);
        if (st.state !== "running") throw new Error(`${atSign}: ${JSON.stringify(st)}`);
        for (const port of [rootPort, fresh.port!]) {
          const addr = await lookupAtServer(`@${atSign}`, { host: hostAddress, port, ca: tls.ca });
          expect(addr, `${atSign} via ${port}`).to.deep.equal({
            host: d.address,
            port: st.placement.port,
          });
        }
        expect(st.placement.port).to.be.within(PORTS.min, PORTS.max);
        // Served by a task of the atSign's swarm service, from the built image.
        const ps = await d.docker([
          "ps",
          "--filter",
          `label=com.docker.swarm.service.name=${serviceName(atSign)}`,
          "--format",
          "{{.Image}}",
        ]);
        expect(ps.stdout.trim().split("@")[0]).to.match(/^atplatform-test\/atserver:/);
      }
    } finally {
      await fresh.stop();
    }
  });

  it("alice shares a key with bob; bob reads it through his atServer's federation to alice's", async () => {
    await put(ctx, {
      positional: ["@alice", "meeting", "tuesday at the lighthouse"],
      flags: { "shared-with": "@bob" },
    });
    printed.length = 0;
    await get(ctx, { positional: ["@bob", "meeting"], flags: { from: "@alice" } });
    expect(printed).to.deep.equal(["tuesday at the lighthouse"]);
  });
});
