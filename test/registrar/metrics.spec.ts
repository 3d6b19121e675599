// The registrar's /metrics (REGISTRAR_METRICS_PORT, its own loopback listener), scraped over
// real HTTP while a live registrar registers and activates atSigns on real atServer processes;
// and its request log (ids, probes kept out of the info level).
import { expect } from "chai";
import { configFromEnv, resolveConfig } from "../../services/registrar/src/config";
import { httpLogger } from "../../services/registrar/src/logger";
import { ADMIN_KEY, API_KEY, api, startHarness, type Harness } from "./harness";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe("registrar metrics", function () {
  this.timeout(60_000);

  it("off unless REGISTRAR_METRICS_PORT is set; loopback by default; bad ports refused", () => {
    const base = { dataDir: "/x", apiKey: API_KEY, adminKey: ADMIN_KEY };
    expect(resolveConfig(base).metricsPort).to.equal(undefined);
    expect(resolveConfig(base).metricsHost).to.equal("127.0.0.1");
    const env = {
      REGISTRAR_API_KEY: API_KEY,
      REGISTRAR_ADMIN_KEY: ADMIN_KEY,
      REGISTRAR_ROOT: "127.0.0.1:64",
      REGISTRAR_DIRECTORY_FILE: "/x/records",
    };
    const on = configFromEnv({ ...env, REGISTRAR_METRICS_PORT: "9464" }).registrar;
    expect(on).to.include({ metricsPort: 9464, metricsHost: "127.0.0.1" });
    expect(() => resolveConfig({ ...base, metricsPort: 70000 })).to.throw(/invalid metrics port/);
  });

  describe("on a live registrar", () => {
    let h: Harness;
    let port: number;
    before(async () => {
      h = await startHarness({ metricsPort: 0 });
      port = h.registrar.metricsPort!;
    });
    after(async () => h?.stop());

    it("is not served on the public port; the metrics port serves only /metrics", async () => {
      expect((await fetch(`${h.url}/metrics`)).status).to.equal(404);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(404);
      const text = await scrape(port);
      expect(value(text, "process_resident_memory_bytes")).to.be.greaterThan(1_000_000);
      expect(value(text, 'registrar_atsigns{state="active"}')).to.equal(0);
    });

    it("an API-key registration and activation move the counters, states, time to active and orchestrator calls", async () => {
      const got = await api(h.url, "/api/app/v3/get-atsign?atSign=&ActivationKey=");
      const { atSign, ActivationKey } = got.json.value;
      let text = await scrape(port);
      expect(value(text, 'registrar_registrations_total{flow="api_key",result="ok"}')).to.equal(1);
      expect(value(text, 'registrar_atsigns{state="reserved"}')).to.equal(1);
      const bad = await api(h.url, "/api/app/v3/activate-atsign", {
        body: { atSign, ActivationKey: "wrong-key-000" },
      });
      expect(bad.status).to.equal(400);
      const act = await api(h.url, "/api/app/v3/activate-atsign", {
        body: { atSign, ActivationKey },
      });
      expect(act.status).to.equal(200);
      text = await scrape(port);
      expect(value(text, 'registrar_activations_total{flow="api_key",result="400"}')).to.equal(1);
      expect(value(text, 'registrar_activations_total{flow="api_key",result="ok"}')).to.equal(1);
      expect(value(text, 'registrar_atsigns{state="active"}')).to.equal(1);
      expect(value(text, 'registrar_atsigns{state="reserved"}')).to.equal(0);
      expect(value(text, "registrar_time_to_active_seconds_count")).to.equal(1);
      expect(
        value(text, 'registrar_orchestrator_call_duration_seconds_count{op="ensure"}'),
      ).to.be.at.least(1);
      expect(text).not.to.match(/registrar_orchestrator_errors_total\{/);
    });

    it("an email registration counts the send; a taken name is a 409 registration", async () => {
      const email = "metrics@example.com";
      const reg = await api(h.url, "/api/app/v2/register-person", {
        body: { email, atsign: "@metricsone" },
      });
      expect(reg.status).to.equal(200);
      const taken = await api(h.url, "/api/app/v2/register-person", {
        body: { email: "other@example.com", atsign: "@metricsone" },
      });
      expect(taken.status).to.equal(409);
      const text = await scrape(port);
      expect(value(text, 'registrar_registrations_total{flow="email",result="ok"}')).to.equal(1);
      expect(value(text, 'registrar_registrations_total{flow="email",result="409"}')).to.equal(1);
      expect(value(text, 'registrar_emails_total{result="ok"}')).to.equal(1);
    });
  });
});

describe("registrar request log", function () {
  this.timeout(60_000);
  let h: Harness;
  const lines: { level: string; obj: Record<string, unknown> }[] = [];
  const originals = { info: httpLogger.info, debug: httpLogger.debug };
  before(async () => {
    h = await startHarness();
    for (const level of ["info", "debug"] as const) {
      httpLogger[level] = ((obj: Record<string, unknown>) => {
        lines.push({ level, obj });
      }) as typeof httpLogger.info;
    }
  });
  after(async () => {
    Object.assign(httpLogger, originals);
    await h?.stop();
  });

  it("every request gets an id (the caller's X-Request-Id when it is a plain token), logged at info; probes at debug only", async () => {
    const own = await fetch(`${h.url}/api/status`, { headers: { "x-request-id": "lb-1234" } });
    expect(own.headers.get("x-request-id")).to.equal("lb-1234");
    const hostile = await fetch(`${h.url}/api/status`, {
      headers: { "x-request-id": "a b\u00e9{}" },
    });
    const fresh = hostile.headers.get("x-request-id")!;
    expect(fresh).to.match(/^[0-9a-f-]{36}$/);
    await fetch(`${h.url}/healthz`);
    const info = lines.filter((l) => l.level === "info").map((l) => l.obj);
    expect(info.map((o) => o.reqId)).to.include.members(["lb-1234", fresh]);
    expect(info.some((o) => o.path === "/healthz")).to.equal(false);
    expect(lines.some((l) => l.level === "debug" && l.obj.path === "/healthz")).to.equal(true);
  });
});
