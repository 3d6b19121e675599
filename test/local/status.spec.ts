// Metrics on the local platform and `atplatform status`, as a user runs them (child
// processes, a temp HOME, a real platform): metrics on by default on loopback for the
// directory, the registrar and each atServer, on ports that do not clash; status summarises
// them, and says plainly when the platform is not running; ATPLATFORM_METRICS=off turns them off.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { LocalPlatform, localConfigFromEnv } from "@atplatform/local";
import { LocalConfigError } from "../../services/local/src/config";
import { setRegistrarLogLevel } from "@atplatform/registrar";
import { runCli, userHome, type UserHome } from "./user-home";

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).to.equal(200);
  return res.text();
}

describe("local platform metrics and `atplatform status`", function () {
  this.timeout(90_000);
  let tmp: string;
  let data: string;
  let platform: LocalPlatform | undefined;
  let platformEnv: Record<string, string>;

  let home: UserHome;
  const cli = (args: string[]) => runCli(home, args);

  async function start(extra: Record<string, string> = {}): Promise<LocalPlatform> {
    platform = new LocalPlatform(localConfigFromEnv({ ...platformEnv, ...extra }), {
      print: () => {},
    });
    await platform.start();
    return platform;
  }

  function atServerMetricsFiles(): string[] {
    const root = join(data, "atservers");
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((shard) =>
      readdirSync(join(root, shard))
        .map((d) => join(root, shard, d, "metrics.json"))
        .filter((f) => existsSync(f)),
    );
  }

  before(async () => {
    setRegistrarLogLevel("error");
    home = await userHome("atp-status-", 20);
    ({ tmp, data, platformEnv } = home);
  });
  after(async () => {
    await platform?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("ATPLATFORM_METRICS: on by default, off when asked, anything else refused", () => {
    expect(localConfigFromEnv({}).metrics).to.equal(true);
    expect(localConfigFromEnv({ ATPLATFORM_METRICS: "off" }).metrics).to.equal(false);
    expect(() => localConfigFromEnv({ ATPLATFORM_METRICS: "no" })).to.throw(
      LocalConfigError,
      /ATPLATFORM_METRICS must be on or off/,
    );
  });

  it("status before the first start says the platform is not running", async () => {
    const r = await cli(["status"]);
    expect(r.code).to.equal(1);
    expect(r.out).to.contain(`atPlatform is not running: no platform has run in ${data}`);
  });

  it("every service's endpoint is on loopback, ports distinct, and its domain metrics move", async () => {
    const p = await start();
    const urls = p.info!.metrics!;
    const reg = await cli(["register", "@statalice"]);
    expect(reg.code, reg.out + reg.err).to.equal(0);
    const files = atServerMetricsFiles();
    expect(files).to.have.length(1);
    const atServer = JSON.parse(readFileSync(files[0]!, "utf8")) as { atSign: string; url: string };
    expect(atServer.atSign).to.equal("@statalice");
    const all = [urls.directory, urls.registrar, atServer.url];
    for (const u of all) expect(u).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new Set(all.map((u) => new URL(u).port)).size).to.equal(3);

    expect(value(await scrape(urls.registrar), 'registrar_atsigns{state="active"}')).to.equal(1);
    const found = 'atdirectory_lookups_total{result="found"}';
    const dirBefore = value(await scrape(urls.directory), found) || 0;
    expect((await cli(["lookup", "@statalice"])).code).to.equal(0);
    expect(value(await scrape(urls.directory), found)).to.equal(dirBefore + 1);
    const puts = 'atserver_commands_total{verb="update",result="ok"}';
    const putsBefore = value(await scrape(atServer.url), puts) || 0;
    expect((await cli(["put", "@statalice", "phone", "555"])).code).to.equal(0);
    expect(value(await scrape(atServer.url), puts)).to.equal(putsBefore + 1);
  });

  it("status prints the summary from the metrics endpoints", async () => {
    const r = await cli(["status"]);
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.contain("metrics:");
    expect(r.out).to.match(
      /^ {2}directory\s+lookups found \d+.*; store \w+; \d+ open connections$/m,
    );
    expect(r.out).to.match(/^ {2}registrar\s+atSigns active 1$/m);
    expect(r.out).to.match(/^ {2}@statalice\s+up; connections \d+.*; memory \d+\.\d MB$/m);
  });

  it("an atServer whose endpoint does not answer shows as such, and status fails", async () => {
    const file = atServerMetricsFiles()[0]!;
    const pid = Number(readFileSync(join(file, "..", "atserver.pid"), "utf8"));
    process.kill(pid, "SIGSTOP");
    try {
      const r = await cli(["status"]);
      expect(r.code).to.equal(1);
      expect(r.out).to.match(/^ {2}@statalice\s+NOT answering \(/m);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });

  it("after stop, status says it is not running; with ATPLATFORM_METRICS=off there are none", async () => {
    await platform!.stop();
    platform = undefined;
    const stopped = await cli(["status"]);
    expect(stopped.code).to.equal(1);
    expect(stopped.out).to.contain("atPlatform is not running: it stopped");
    expect(atServerMetricsFiles()).to.have.length(0);

    const p = await start({ ATPLATFORM_METRICS: "off" });
    expect(p.info!.metrics).to.equal(undefined);
    const r = await cli(["status"]);
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.contain("metrics:   off (ATPLATFORM_METRICS=off)");
    expect(atServerMetricsFiles()).to.have.length(0);
  });
});
