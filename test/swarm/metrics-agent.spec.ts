// The per-node metrics agent on a real Docker Engine in swarm mode (the shared one-node
// swarm, a manager that runs tasks): the registrar's orchestrator ensures it as a global
// service from the atServer image, two atServers run with their metrics on the node's bridge
// only, and the agent's 127.0.0.1:9464 (read from inside the node's network namespace)
// carries both atServers' families with their atsign, moving when one of them takes a put,
// plus the manager-only swarm health.
import "../registrar/quiet";
import { expect } from "chai";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SwarmOrchestrator } from "../../services/registrar/src/orchestrator/swarm";
import { AGENT_SERVICE } from "../../services/registrar/src/orchestrator/swarm/metrics-agent";
import { serviceName, sha256 } from "../../services/registrar/src/orchestrator/swarm/service-spec";
import { sleep } from "../support/docker/exec";
import type { TestDockerd } from "../support/docker/dockerd";
import {
  ownedDir,
  tempDir,
  tlsFiles,
  waitForAtServer,
  testOrchestratorConfig,
  testSwarm,
} from "./harness";
import { sharedSwarm } from "./shared";

const CRAM = "cram-secret-agent-".padEnd(64, "0");
const TLS_SECRETS = ["atserver-tls-crt-agent0001", "atserver-tls-key-agent0001"];

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe("swarm tier on a real Docker Engine: per-node metrics agent", function () {
  this.timeout(300_000);
  let d: TestDockerd;
  let dir: string;
  let orch: SwarmOrchestrator;
  let ca: string;
  const ATSIGNS = ["agentalice", "agentbob"];
  const PORTS = [30090, 30091];

  before(async () => {
    const { swarm, images } = await sharedSwarm();
    d = swarm.leader;
    dir = tempDir("atp-agent-");
    const storageRoot = ownedDir(dir, "atservers");
    const tls = await tlsFiles(dir, [d.address]);
    ca = tls.ca;
    for (const [i, file] of ["cert.pem", "key.pem"].entries())
      await d.docker([
        "secret",
        "create",
        "--label=atplatform.tls=wildcard",
        TLS_SECRETS[i]!,
        join(tls.dir, file),
      ]);
    writeFileSync(join(dir, "cram"), CRAM, { mode: 0o600 });
    const cfg = testOrchestratorConfig(
      [
        testSwarm(d, {
          name: "blue",
          minPort: 30000,
          maxPort: 30099,
          image: images.atserver,
          storageRoot,
          // Each test dockerd has its own socket; production nodes use /var/run/docker.sock.
          dockerSocket: d.socket,
        }),
      ],
      images,
      `${d.address}:6400`,
    );
    orch = new SwarmOrchestrator(cfg);
  });

  after(async () => {
    await orch?.close();
    if (!d) return;
    const names = [AGENT_SERVICE, ...ATSIGNS.map(serviceName)];
    await d.docker(["service", "rm", ...names]).catch(() => undefined);
    // The secrets stay in use until the tasks' containers are gone.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const left = await d.docker(["secret", "rm", ...TLS_SECRETS]).then(
        () => false,
        (err: Error) => !/no such secret/i.test(err.message) || /in use/i.test(err.message),
      );
      if (!left) break;
      await sleep(500);
    }
    for (const a of ATSIGNS)
      await d.docker(["secret", "rm", ...(await cramSecrets(a))]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function cramSecrets(atsign: string): Promise<string[]> {
    const out = await d.docker(["secret", "ls", "--format", "{{.Name}}"]);
    const prefix = `atserver-cram-${sha256(atsign).slice(0, 16)}-`;
    return out.stdout.split("\n").filter((n) => n.startsWith(prefix));
  }

  async function agentContainer(): Promise<string> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const out = await d.docker([
        "ps",
        "-q",
        "--filter",
        `label=com.docker.swarm.service.name=${AGENT_SERVICE}`,
      ]);
      const id = out.stdout.trim().split("\n")[0];
      if (id) return id;
      if (Date.now() > deadline) throw new Error("no metrics agent container");
      await sleep(500);
    }
  }

  /** GET 127.0.0.1:9464/metrics inside the node's network namespace (the agent's own). */
  async function scrapeAgent(): Promise<string> {
    const id = await agentContainer();
    const out = await d.docker([
      "exec",
      id,
      "node",
      "-e",
      "fetch('http://127.0.0.1:9464/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))",
    ]);
    return out.stdout;
  }

  async function until(what: string, check: (text: string) => boolean, ms = 60_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = await scrapeAgent().catch((err: Error) => err.message);
      if (check(text)) return text;
      if (Date.now() > deadline) throw new Error(`${what}; last scrape:\n${text.slice(0, 2000)}`);
      await sleep(1000);
    }
  }

  it("is ensured idempotently as a global service from the atServer image", async () => {
    await orch.prepare();
    const first = await d.json<{ Version: { Index: number }; Spec: Record<string, unknown> }[]>([
      "service",
      "inspect",
      AGENT_SERVICE,
    ]);
    await orch.prepare();
    const again = await d.json<{ Version: { Index: number } }[]>([
      "service",
      "inspect",
      AGENT_SERVICE,
    ]);
    expect(again[0]!.Version.Index).to.equal(first[0]!.Version.Index);
    expect(first[0]!.Spec.Mode).to.deep.equal({ Global: {} });
  });

  it("scrapes both atServers on its node: atsign-labelled, moving on a put; swarm health on the manager", async () => {
    const secret = join(dir, "cram");
    await Promise.all(
      ATSIGNS.map((a, i) =>
        orch.ensure(a, { swarm: "blue", host: d.address, port: PORTS[i]! }, secret),
      ),
    );
    // The metrics port is not published: only the atServer's own port is.
    const svc = await d.json<{ Endpoint?: { Ports?: { TargetPort: number }[] } }[]>([
      "service",
      "inspect",
      serviceName(ATSIGNS[0]!),
    ]);
    expect((svc[0]!.Endpoint?.Ports ?? []).map((p) => p.TargetPort)).to.deep.equal([PORTS[0]]);
    const alice = await waitForAtServer(d.address, PORTS[0]!, ca, "@agentalice");
    try {
      await alice.cram(CRAM);
      const series = 'atserver_commands_total{atsign="@agentalice",verb="update",result="ok"}';
      let text = await until(
        "both atServers in the agent's metrics",
        (t) =>
          /^atserver_info\{atsign="@agentalice"/m.test(t) &&
          /^atserver_info\{atsign="@agentbob"/m.test(t),
        120_000,
      );
      expect(value(text, "atplatform_agent_atservers")).to.equal(2);
      expect(text.match(/^# TYPE atserver_open_connections gauge$/gm)).to.have.length(1);
      const before = Number.isNaN(value(text, series)) ? 0 : value(text, series);
      await alice.execute("update:public:agent@agentalice 1");
      text = await until("the put counted", (t) => value(t, series) === before + 1);
      expect(value(text, 'atserver_commands_total{atsign="@agentbob",verb="update",result="ok"}'))
        .to.be.NaN;
      expect(value(text, "atplatform_swarm_managers_total")).to.equal(1);
      expect(value(text, "atplatform_swarm_managers_reachable")).to.equal(1);
      expect(
        value(text, 'atplatform_swarm_nodes{role="manager",state="ready",availability="active"}'),
      ).to.equal(1);
      expect(value(text, "atplatform_swarm_services_crashlooping")).to.equal(0);
    } finally {
      alice.destroy();
    }
  });
});
