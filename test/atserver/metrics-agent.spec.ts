// The per-node metrics agent's merge and relabel code, and one agent round over real sockets:
// a stand-in Engine API on a unix socket lists two real atServers (metrics on) plus broken
// targets; the merged document carries both atServers' families once each, every sample
// labelled with the atSign the container label names, and the domain metrics move.
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { MetricsAgent } from "../../services/atserver/src/metrics-agent/agent";
import {
  AGENT_DEFAULTS,
  agentConfigFromEnv,
} from "../../services/atserver/src/metrics-agent/config";
import {
  addTarget,
  renderFamilies,
  type Families,
} from "../../services/atserver/src/metrics-agent/exposition";
import { swarmHealth } from "../../services/atserver/src/metrics-agent/swarm-health";
import { targetsOf } from "../../services/atserver/src/metrics-agent/targets";
import { startServer, type Started } from "./harness";

const DOC_A = [
  "# HELP atserver_commands_total Commands.",
  "# TYPE atserver_commands_total counter",
  'atserver_commands_total{verb="update",result="ok"} 3',
  "# HELP atserver_info This atServer.",
  "# TYPE atserver_info gauge",
  'atserver_info{atsign="@forged",version="1"} 1',
  "# HELP lat Latency.",
  "# TYPE lat histogram",
  'lat_bucket{le="0.1"} 1',
  'lat_bucket{le="+Inf"} 2',
  "lat_sum 0.3",
  "lat_count 2",
  "",
].join("\n");

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe("metrics agent", function () {
  this.timeout(30_000);

  describe("merge and relabel", () => {
    it("groups each family once across targets, atsign first, the target's own atsign dropped", () => {
      const f: Families = new Map();
      addTarget(f, DOC_A, "@alice", 100);
      addTarget(f, DOC_A.replace(" 3\n", " 5\n"), "@bob", 100);
      const text = renderFamilies(f);
      expect(text.match(/^# TYPE atserver_commands_total counter$/gm)).to.have.length(1);
      expect(text.match(/^# TYPE lat histogram$/gm)).to.have.length(1);
      expect(text).to.contain(
        'atserver_commands_total{atsign="@alice",verb="update",result="ok"} 3',
      );
      expect(text).to.contain('atserver_commands_total{atsign="@bob",verb="update",result="ok"} 5');
      expect(text).to.contain('atserver_info{atsign="@bob",version="1"} 1');
      expect(text).not.to.contain("@forged");
      expect(text).to.contain('lat_sum{atsign="@alice"} 0.3');
      // A family's lines stay together: both targets' buckets before the next family header.
      const lines = text.split("\n");
      const first = lines.indexOf("# TYPE lat histogram");
      const block = lines.slice(first + 1).filter((l) => l !== "");
      expect(block).to.have.length(8);
      expect(block.every((l) => l.startsWith("lat_"))).to.equal(true);
    });

    it("escapes label values and keeps quoted braces and commas intact", () => {
      const f: Families = new Map();
      addTarget(f, 'x{a="q\\"}, b"} 1\n', '@a"b', 10);
      expect(renderFamilies(f)).to.equal('x{atsign="@a\\"b",a="q\\"}, b"} 1\n');
    });

    it("refuses malformed lines and more samples than allowed", () => {
      expect(() => addTarget(new Map(), "not a sample\n", "@a", 10)).to.throw(/bad sample/);
      expect(() => addTarget(new Map(), "x{a=1} 1\n", "@a", 10)).to.throw(/bad/);
      expect(() => addTarget(new Map(), "x 1\ny 2\nz 3\n", "@a", 2)).to.throw(/more than 2/);
    });

    it("targets come from the container labels and an IPv4 address; others are skipped", () => {
      const c = (labels: Record<string, string>, ip = "10.0.0.9") => ({
        Id: "x",
        Labels: labels,
        NetworkSettings: { Networks: { bridge: { IPAddress: ip } } },
      });
      const got = targetsOf(
        [
          c({ "atplatform.atsign": "alice", "atplatform.metrics-port": "9465" }),
          c({ "atplatform.atsign": "@bob" }),
          c({ "atplatform.atsign": 'ev"il', "atplatform.metrics-port": "9465" }),
          c({ "atplatform.atsign": "@carol", "atplatform.metrics-port": "9465" }, ""),
        ],
        10,
      );
      expect(got).to.deep.equal([{ atsign: "@alice", url: "http://10.0.0.9:9465/metrics" }]);
    });

    it("configuration from the environment, bad values refused", () => {
      expect(agentConfigFromEnv({})).to.deep.equal(AGENT_DEFAULTS);
      expect(agentConfigFromEnv({ ATPLATFORM_AGENT_PORT: "0" }).port).to.equal(0);
      expect(() => agentConfigFromEnv({ ATPLATFORM_AGENT_TIMEOUT_MS: "1e3" })).to.throw(
        /ATPLATFORM_AGENT_TIMEOUT_MS must be an integer/,
      );
      expect(() => agentConfigFromEnv({ ATPLATFORM_AGENT_DOCKER_SOCKET: "x.sock" })).to.throw(
        /absolute/,
      );
    });
  });

  describe("swarm health", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    const ago = (min: number) => new Date(now - min * 60_000).toISOString();

    it("counts nodes by role/state/availability and reachable managers", () => {
      const h = swarmHealth(
        [
          {
            ID: "1",
            Spec: { Role: "manager", Availability: "active" },
            Status: { State: "ready" },
            ManagerStatus: { Reachability: "reachable" },
          },
          {
            ID: "2",
            Spec: { Role: "manager", Availability: "drain" },
            Status: { State: "down" },
            ManagerStatus: { Reachability: "unreachable" },
          },
          { ID: "3", Spec: { Role: "worker", Availability: "active" }, Status: { State: "ready" } },
        ],
        [],
        [],
        now,
      );
      expect(h.managersTotal).to.equal(2);
      expect(h.managersReachable).to.equal(1);
      expect(h.nodes.get("manager|down|drain")).to.equal(1);
      expect(h.nodes.get("worker|ready|active")).to.equal(1);
    });

    it("a service crash-loops at 3 failed or rejected tasks within 10 minutes, atServers only", () => {
      const t = (svc: string, state: string, min: number) => ({
        ServiceID: svc,
        Status: { State: state, Timestamp: ago(min) },
      });
      const services = [{ ID: "a" }, { ID: "b" }, { ID: "c" }];
      const ended = [
        ...[1, 2, 9].map((m) => t("a", "failed", m)), // a: 3 in the window
        t("b", "failed", 1),
        t("b", "rejected", 2),
        t("b", "failed", 11), // b: the third is too old
        t("c", "failed", 1),
        t("c", "shutdown", 1),
        t("c", "complete", 1), // c: only one failure
        ...[1, 2, 3].map((m) => t("job", "failed", m)), // not an atServer service
      ];
      expect(swarmHealth([], services, ended, now).servicesCrashlooping).to.equal(1);
      expect(
        swarmHealth([], services, [...ended, t("b", "failed", 3)], now).servicesCrashlooping,
      ).to.equal(2);
    });
  });

  describe("one round over real sockets", () => {
    let alice: Started;
    let bob: Started;
    let engine: Server;
    const junk: Server[] = [];
    let dir: string;
    let agent: MetricsAgent;
    let nodes: unknown[] = [];
    let containers: unknown[] = [];

    const container = (atsign: string, port: number) => ({
      Id: atsign,
      Labels: { "atplatform.atsign": atsign, "atplatform.metrics-port": String(port) },
      NetworkSettings: { Networks: { bridge: { IPAddress: "127.0.0.1" } } },
    });

    async function listen(handler: (res: import("node:http").ServerResponse) => void) {
      const s = createServer((_req, res) => handler(res));
      junk.push(s);
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      return (s.address() as { port: number }).port;
    }

    before(async () => {
      alice = await startServer({ metricsPort: 0 }, "@alice");
      bob = await startServer({ metricsPort: 0 }, "@bob");
      dir = mkdtempSync(join(tmpdir(), "atp-agent-"));
      containers = [
        container("@alice", alice.server.metricsPort!),
        container("@bob", bob.server.metricsPort!),
      ];
      engine = createServer((req, res) => {
        const path = (req.url ?? "").split("?")[0];
        const json = (v: unknown) => res.end(JSON.stringify(v));
        if (req.method !== "GET") return res.writeHead(405).end();
        if (path === "/info") return json({ Swarm: { ControlAvailable: nodes.length > 0 } });
        if (path === "/containers/json") return json(containers);
        if (path === "/nodes") return json(nodes);
        if (path === "/services" || path === "/tasks") return json([]);
        return res.writeHead(404).end();
      });
      await new Promise<void>((r) => engine.listen(join(dir, "docker.sock"), r));
      agent = new MetricsAgent({
        ...AGENT_DEFAULTS,
        dockerSocket: join(dir, "docker.sock"),
        port: 0,
        timeoutMs: 300,
        maxTargetBytes: 64 * 1024,
        intervalMs: 3_600_000,
        swarmIntervalMs: 100,
      });
      await agent.start();
    });

    after(async () => {
      await agent?.stop();
      await alice?.stop();
      await bob?.stop();
      for (const s of junk) {
        s.closeAllConnections();
        s.close();
      }
      engine?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function scrape(): Promise<string> {
      const res = await fetch(`http://127.0.0.1:${agent.port}/metrics`);
      expect(res.status).to.equal(200);
      return res.text();
    }

    it("serves both atServers' metrics with their atsign, and they move on a put", async () => {
      let text = await scrape();
      expect(value(text, "atplatform_agent_atservers")).to.equal(2);
      expect(text.match(/^# TYPE atserver_open_connections gauge$/gm)).to.have.length(1);
      expect(text).to.match(/^atserver_info\{atsign="@alice",version="[^"]+"\} 1$/m);
      expect(text).to.match(/^atserver_info\{atsign="@bob",version="[^"]+"\} 1$/m);
      const series = 'atserver_commands_total{atsign="@alice",verb="update",result="ok"}';
      const before = value(text, series);
      const c = await alice.owner();
      await c.execute("update:public:agent@alice 1");
      await agent.scrapeOnce();
      text = await scrape();
      expect(value(text, series)).to.equal((Number.isNaN(before) ? 0 : before) + 1);
      expect(value(text, 'atserver_commands_total{atsign="@bob",verb="update",result="ok"}')).to.be
        .NaN;
      expect(value(text, 'atserver_open_connections{atsign="@alice",kind="owner"}')).to.equal(1);
      // No swarm families on a node that is not a manager.
      expect(text).not.to.match(/^atplatform_swarm_nodes\{/m);
    });

    it("too large, silent and malformed targets are counted by reason and add nothing", async () => {
      const big = await listen((res) => res.end("x 1\n".repeat(100_000)));
      // No content-length: only the running count can stop it.
      const chunked = await listen((res) => {
        for (let i = 0; i < 100; i++) res.write("x 1\n".repeat(1000));
        res.end();
      });
      const silent = await listen(() => {});
      const bad = await listen((res) => res.end("<html>\n"));
      containers.push(
        container("@big", big),
        container("@chunked", chunked),
        container("@silent", silent),
        container("@bad", bad),
      );
      const err = (text: string, reason: string) =>
        value(text, `atplatform_agent_scrape_errors_total{reason="${reason}"}`);
      const before = await scrape();
      // A silent target ends at the scrape deadline (counted as "timeout" below), never hangs.
      await agent.scrapeOnce();
      const text = await scrape();
      expect(err(text, "too_large")).to.equal(err(before, "too_large") + 2);
      for (const reason of ["timeout", "parse"])
        expect(err(text, reason), reason).to.equal(err(before, reason) + 1);
      expect(value(text, "atplatform_agent_atservers")).to.equal(6);
      expect(text).not.to.match(/atsign="@(big|chunked|silent|bad)"/);
      expect(text).to.match(/^atserver_info\{atsign="@bob"/m);
      containers.splice(2);
    });

    it("on a manager it adds the swarm health families", async () => {
      nodes = [
        {
          ID: "1",
          Spec: { Role: "manager", Availability: "active" },
          Status: { State: "ready" },
          ManagerStatus: { Reachability: "reachable" },
        },
      ];
      await new Promise((r) => setTimeout(r, 150));
      await agent.scrapeOnce();
      const text = await scrape();
      expect(value(text, "atplatform_swarm_managers_total")).to.equal(1);
      expect(value(text, "atplatform_swarm_managers_reachable")).to.equal(1);
      expect(value(text, "atplatform_swarm_services_crashlooping")).to.equal(0);
      expect(
        value(text, 'atplatform_swarm_nodes{role="manager",state="ready",availability="active"}'),
      ).to.equal(1);
      expect(text.match(/^atplatform_swarm_nodes\{/gm)).to.have.length(24);
    });

    it("an unreachable Engine API counts a discovery error and keeps serving", async () => {
      engine.close();
      const before = await scrape();
      await agent.scrapeOnce();
      const text = await scrape();
      const series = 'atplatform_agent_scrape_errors_total{reason="discovery"}';
      expect(value(text, series)).to.equal(value(before, series) + 1);
    });
  });
});
