// The atServer's /metrics (--metrics-port), scraped over real HTTP while real clients act on
// a real TLS server: the domain metrics move when the events happen. Off unless configured.
import { rmSync } from "node:fs";
import { expect } from "chai";
import { cramDigest } from "@atplatform/protocol";
import { resolveConfig } from "../../services/atserver/src/config";
import { startPlatform, type Platform } from "./federation-harness";
import { AtServerProcess, startServer, tempDir, type Started } from "./harness";
import { freePort } from "../support/ports";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).to.equal(200);
  expect(res.headers.get("content-type")).to.match(/^text\/plain; version=0.0.4/);
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("atserver metrics", function () {
  this.timeout(30_000);

  describe("configuration", () => {
    const base = { atSign: "@alice", port: "0", cert: "c", key: "k", storage: "s" };

    it("is off by default: no endpoint, no hooks in the engine", async () => {
      expect(resolveConfig(base, {}).metricsPort).to.equal(undefined);
      const s = await startServer();
      try {
        expect(s.server.metricsPort).to.equal(undefined);
        expect(s.server.ctx.metrics).to.equal(undefined);
      } finally {
        await s.stop();
      }
    });

    it("--metrics-port / ATSERVER_METRICS_PORT, loopback unless --metrics-host; bad ports refused", () => {
      expect(resolveConfig({ ...base, metricsPort: "9464" }, {})).to.include({
        metricsPort: 9464,
        metricsHost: "127.0.0.1",
      });
      expect(
        resolveConfig(base, { ATSERVER_METRICS_PORT: "0", ATSERVER_METRICS_HOST: "0.0.0.0" }),
      ).to.include({ metricsPort: 0, metricsHost: "0.0.0.0" });
      expect(() => resolveConfig({ ...base, metricsPort: "70000" }, {})).to.throw(
        /--metrics-port must be 0..65535/,
      );
      expect(() => resolveConfig({ ...base, metricsPort: "x" }, {})).to.throw(/not a number/);
    });
  });

  it("the atserver process (tsx bin) serves /metrics with --metrics-port", async () => {
    const dir = tempDir();
    const mport = await freePort();
    const proc = await AtServerProcess.start({
      storage: `${dir}/store`,
      extraArgs: ["--metrics-port", String(mport)],
    });
    try {
      await proc.ready();
      const text = await scrape(mport);
      expect(text).to.include('atserver_info{atsign="@alice"');
      expect(value(text, 'atserver_commands_total{verb="info",result="ok"}')).to.be.at.least(1);
    } finally {
      await proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("on one server", () => {
    let s: Started;
    let port: number;
    before(async () => {
      s = await startServer({ metricsPort: 0 });
      port = s.server.metricsPort!;
    });
    after(async () => s.stop());

    it("serves only GET /metrics, on loopback", async () => {
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).to.equal(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })).status).to.equal(
        405,
      );
      const text = await scrape(port);
      expect(text).to.include('atserver_info{atsign="@alice",version="');
      expect(value(text, "process_resident_memory_bytes")).to.be.greaterThan(1_000_000);
      expect(value(text, "atserver_memory_limit_bytes")).to.be.at.least(0);
    });

    it("a wrong CRAM digest increments the auth failures and the cram AT0401 count", async () => {
      const before = await scrape(port);
      const c = await s.client();
      await c.from();
      expect(await c.send(`cram:${cramDigest("wrong", "x")}`)).to.match(/^error:AT0401/);
      const after = await scrape(port);
      const failures = 'atserver_auth_failures_total{verb="cram"}';
      expect(value(after, failures)).to.equal(value(before, failures) + 1);
      expect(value(after, 'atserver_commands_total{verb="cram",result="AT0401"}')).to.equal(1);
    });

    it("connections by kind: owner and unauthenticated, and admissions counted", async () => {
      const owner = await s.owner();
      const anon = await s.client();
      await anon.execute("info:brief");
      const text = await scrape(port);
      expect(value(text, 'atserver_open_connections{kind="owner"}')).to.be.at.least(1);
      expect(value(text, 'atserver_open_connections{kind="unauthenticated"}')).to.be.at.least(1);
      expect(value(text, 'atserver_open_connections{kind="peer"}')).to.equal(0);
      expect(value(text, 'atserver_connections_total{event="admitted"}')).to.be.at.least(2);
      owner.destroy();
      anon.destroy();
    });

    it("verbs by name and result; an update moves the commit latency and the storage size", async () => {
      const owner = await s.owner();
      const before = await scrape(port);
      await owner.execute(`update:public:big.metrics@alice ${"x".repeat(200_000)}`);
      expect(await owner.send("llookup:nothere.metrics@alice")).to.match(/^error:AT0015/);
      const after = await scrape(port);
      expect(value(after, 'atserver_commands_total{verb="update",result="ok"}')).to.equal(
        (value(before, 'atserver_commands_total{verb="update",result="ok"}') || 0) + 1,
      );
      expect(value(after, 'atserver_commands_total{verb="llookup",result="AT0015"}')).to.equal(1);
      expect(value(after, "atserver_commit_duration_seconds_count")).to.be.greaterThan(
        value(before, "atserver_commit_duration_seconds_count"),
      );
      expect(value(after, 'atserver_command_duration_seconds_count{verb="update"}')).to.be.at.least(
        1,
      );
      expect(value(after, "atserver_storage_bytes")).to.be.greaterThan(200_000);
      owner.destroy();
    });

    it("M1: a client sending made-up verb names cannot grow the label set", async () => {
      const c = await s.client();
      for (let i = 0; i < 20; i++) {
        expect(await c.send(`madeup${i}:x`)).to.match(/^error:AT0003/);
      }
      const text = await scrape(port);
      expect(text).not.to.match(/madeup/);
      expect(value(text, 'atserver_commands_total{verb="invalid",result="AT0003"}')).to.be.at.least(
        20,
      );
    });
  });

  describe("notifications between two servers", () => {
    let p: Platform;
    before(async function () {
      this.timeout(60_000);
      p = await startPlatform(["@alice", "@bob"], { overrides: { metricsPort: 0 } });
    });
    after(async () => p?.stop());

    it("a delivered notification moves the delivery latency; the queue drains to 0", async () => {
      const port = p.servers["@alice"]!.metricsPort!;
      const alice = await p.owner("@alice");
      await alice.execute("notify:update:@bob:hello.metrics@alice:hi");
      await until(
        async () => value(await scrape(port), "atserver_notification_delivery_seconds_count") === 1,
      );
      const text = await scrape(port);
      expect(value(text, "atserver_notification_queue_depth")).to.equal(0);
      // bob saw alice's server as a peer (pol) connection.
      const bobText = await scrape(p.servers["@bob"]!.metricsPort!);
      expect(value(bobText, 'atserver_commands_total{verb="pol",result="ok"}')).to.be.at.least(1);
      expect(value(bobText, 'atserver_open_connections{kind="peer"}')).to.be.at.least(1);
    });
  });
});
