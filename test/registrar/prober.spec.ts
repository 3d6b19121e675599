// The registrar's platform prober, end to end with real parts: a real atDirectory reading a
// real Redis replica, real atServer processes, TLS endpoints with short-lived certificates
// from CAs this test makes, and /metrics scraped over real HTTP. The wrong answers are
// provoked in Redis itself, as a lost or corrupted record would be.
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { X509Certificate } from "node:crypto";
import { expect } from "chai";
import { DEFAULT_INVALIDATION_CHANNEL } from "@atplatform/directory";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
  type Pem,
} from "@atplatform/protocol";
import { ConfigError, configFromEnv, proberDeps, RegistrarStore } from "@atplatform/registrar";
import { RegistrarMetrics } from "../../services/registrar/src/metrics";
import { PlatformProber } from "../../services/registrar/src/probe/platform-prober";
import { TestRedis } from "../support/redis-server";
import { testTls } from "../support/test-ca";
import { api, startHarness, type Harness } from "./harness";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

const probes = (text: string, result: string) =>
  value(text, `registrar_directory_probe_total{result="${result}"}`);
const expiry = (text: string, cert: string, target: string) =>
  value(text, `atplatform_certificate_expiry_timestamp_seconds{cert="${cert}",target="${target}"}`);
const notAfter = (pem: string) => Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);

function listen<T extends NetServer>(server: T): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

async function activate(url: string, atSign: string): Promise<void> {
  const got = await api(url, `/api/app/v3/get-atsign?atSign=${atSign}&ActivationKey=key-${atSign}`);
  const act = await api(url, "/api/app/v3/activate-atsign", { body: got.json.value });
  expect(act.status, act.text).to.equal(200);
}

describe("registrar platform prober", function () {
  this.timeout(90_000);
  let primary: TestRedis;
  let replica: TestRedis;
  let h: Harness;
  let metricsPort: number;
  let ca: CertificateAuthority;
  let publicLeaf: Pem;
  let engineLeaf: Pem;
  let publicServer: HttpsServer;
  let engine: TlsServer;
  const engineClients: (string | undefined)[] = [];

  before(async () => {
    ca = await createCertificateAuthority({ commonName: "prober test CA", validDays: 10 });
    publicLeaf = await issueServerCertificate(ca, { names: ["localhost"], validDays: 2 });
    engineLeaf = await issueServerCertificate(ca, { names: ["127.0.0.1"], validDays: 3 });
    const client = await issueServerCertificate(ca, { names: ["registrar"], validDays: 10 });
    // The registrar's public URL (its load balancer in production).
    publicServer = createHttpsServer({ ...publicLeaf }, (_req, res) => res.end("ok"));
    const publicPort = await listen(publicServer);
    // An Engine API endpoint: mutual TLS, like dockerd's --tlsverify.
    engine = createTlsServer({
      ...engineLeaf,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    engine.on("secureConnection", (s) => {
      engineClients.push(s.authorized ? String(s.getPeerCertificate().subject?.CN) : undefined);
      s.destroy();
    });
    const enginePort = await listen(engine);

    primary = await TestRedis.start({ password: "prober-test-pw" });
    replica = await TestRedis.start({ password: "prober-test-pw", replicaOf: primary });
    h = await startHarness({
      redis: { primary, replica },
      metricsPort: 0,
      probe: {
        // Rounds on demand (probeNow) after the first, so counts are exact.
        intervalMs: 3_600_000,
        sampleSize: 1,
        timeoutMs: 2000,
        publicUrl: `https://localhost:${publicPort}`,
        engines: [
          {
            swarm: "local",
            host: "127.0.0.1",
            port: enginePort,
            cert: client.cert,
            key: client.key,
          },
        ],
      },
    });
    metricsPort = h.registrar.metricsPort!;
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await h.lookup("warm-up");
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
  after(async () => {
    await h?.stop();
    await replica?.stop();
    await primary?.stop();
    publicServer?.close();
    engine?.close();
  });

  it("exports every result at zero and the pending states' ages at zero from the start", async () => {
    const text = await scrape(metricsPort);
    for (const result of ["ok", "wrong_null", "wrong_address", "error"])
      expect(probes(text, result), result).to.equal(0);
    for (const state of ["requested", "allocated", "healthy", "directory_written", "deleting"])
      expect(value(text, `registrar_provisioning_oldest_seconds{state="${state}"}`)).to.equal(0);
  });

  it("reads the notAfter of the root, its public URL and the Engine API (with its client certificate)", async () => {
    await h.registrar.probeNow();
    const text = await scrape(metricsPort);
    const tls = await testTls();
    expect(expiry(text, "root", "127.0.0.1")).to.equal(notAfter(tls.cert));
    expect(expiry(text, "registrar", "localhost")).to.equal(notAfter(publicLeaf.cert));
    expect(expiry(text, "docker_api", "local")).to.equal(notAfter(engineLeaf.cert));
    // Short-lived: two and three days out.
    expect(expiry(text, "registrar", "localhost") - Date.now() / 1000).to.be.below(2 * 86400);
    expect(engineClients).to.include("registrar");
    // No atSign is active yet, so no swarm's atServer port is known.
    expect(text).not.to.match(/cert="swarm_wildcard"/);
  });

  it("looks up active atSigns through the root: ok, one per round (the sample cap); the swarm's atServer certificate", async () => {
    await activate(h.url, "probeone");
    await activate(h.url, "probetwo");
    const before = await scrape(metricsPort);
    await h.registrar.probeNow();
    const text = await scrape(metricsPort);
    expect(probes(text, "ok") - probes(before, "ok")).to.equal(1);
    expect(
      probes(text, "wrong_null") + probes(text, "wrong_address") + probes(text, "error"),
    ).to.equal(0);
    expect(expiry(text, "swarm_wildcard", "local")).to.equal(notAfter((await testTls()).cert));
  });

  it("a record deleted from Redis is counted wrong_null; a changed one wrong_address", async () => {
    const port = h.registrar.store.get("probeone")!.port!;
    await primary.command("DEL", "probeone");
    // The directory drops its cached copy on the writers' bare-atSign invalidation.
    await primary.command("PUBLISH", DEFAULT_INVALIDATION_CHANNEL, "probeone");
    await primary.command("SET", "probetwo", "127.0.0.1:1");
    await primary.command("PUBLISH", DEFAULT_INVALIDATION_CHANNEL, "probetwo");
    let text = "";
    for (let i = 0; i < 40; i++) {
      await h.registrar.probeNow();
      text = await scrape(metricsPort);
      if (probes(text, "wrong_null") > 0 && probes(text, "wrong_address") > 0) break;
    }
    expect(probes(text, "wrong_null")).to.be.at.least(1);
    expect(probes(text, "wrong_address")).to.be.at.least(1);
    expect(probes(text, "error")).to.equal(0);
    // Put them back: ok again.
    await primary.command("SET", "probeone", `127.0.0.1:${port}`);
    await primary.command("PUBLISH", DEFAULT_INVALIDATION_CHANNEL, "probeone");
    await primary.command(
      "SET",
      "probetwo",
      `127.0.0.1:${h.registrar.store.get("probetwo")!.port}`,
    );
    await primary.command("PUBLISH", DEFAULT_INVALIDATION_CHANNEL, "probetwo");
    await new Promise((r) => setTimeout(r, 300));
    const wrong = probes(text, "wrong_null") + probes(text, "wrong_address");
    for (let i = 0; i < 4; i++) await h.registrar.probeNow();
    const after = await scrape(metricsPort);
    expect(probes(after, "wrong_null") + probes(after, "wrong_address")).to.equal(wrong);
  });

  it("the age of the oldest atSign per pending state, from when it entered the state (failed attempts do not reset it)", async () => {
    const store = h.registrar.store;
    expect(store.reserve("stuckone", { email: "stuck@example.com", reservationTtlMs: 60_000 })).to
      .be.true;
    store.request("stuckone", "x".repeat(32)); // not driven: it stays requested
    await new Promise((r) => setTimeout(r, 1200));
    store.failed("stuckone", "engine unreachable");
    const text = await scrape(metricsPort);
    expect(value(text, 'registrar_provisioning_oldest_seconds{state="requested"}')).to.be.within(
      1.1,
      10,
    );
    expect(value(text, 'registrar_provisioning_oldest_seconds{state="allocated"}')).to.equal(0);
  });
});

describe("registrar platform prober bounds", function () {
  this.timeout(30_000);
  let home: string;
  let store: RegistrarStore;
  let silent: NetServer;
  const held: Socket[] = [];
  before(async () => {
    home = mkdtempSync(join(tmpdir(), "atp-prober-"));
    store = new RegistrarStore(join(home, "registrar.sqlite"));
    // A root that accepts connections and never says a word (no TLS handshake).
    silent = createNetServer((s) => held.push(s));
  });
  after(() => {
    for (const s of held) s.destroy();
    silent.close();
    store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("a silent root ends each lookup at the timeout (else this test's 3 s limit fails it) and is counted as errors, never thrown", async function () {
    this.timeout(3_000);
    const port = await listen(silent);
    const swarm = { name: "s1", host: "127.0.0.1", minPort: port, maxPort: port };
    for (const name of ["aa", "bb", "cc"]) {
      store.reserve(name, { email: `${name}@example.com`, reservationTtlMs: 60_000 });
      let rec = store.request(name, "y".repeat(32));
      const placed = store.allocate(rec, swarm, port + ["aa", "bb", "cc"].indexOf(name));
      rec = placed as NonNullable<Exclude<typeof placed, "taken">>;
      for (const to of ["atserver_started", "healthy", "directory_written", "active"] as const)
        rec = store.transition(rec, to)!;
    }
    const metrics = new RegistrarMetrics(store);
    const prober = new PlatformProber({
      store,
      swarms: [],
      settings: { intervalMs: 3_600_000, sampleSize: 2, timeoutMs: 300 },
      deps: proberDeps({ root: `127.0.0.1:${port}`, timeoutMs: 300 }),
      sink: metrics,
    });
    await prober.runOnce();
    await prober.stop();
    metrics.close();
    const text = metrics.render();
    expect(probes(text, "error")).to.equal(2);
    expect(probes(text, "ok")).to.equal(0);
    expect(
      value(text, 'registrar_certificate_probe_errors_total{cert="root",target="127.0.0.1"}'),
    ).to.equal(1);
    expect(text).not.to.match(/atplatform_certificate_expiry_timestamp_seconds\{/);
  });
});

describe("registrar prober lookups against a hostile root", function () {
  this.timeout(15_000);
  it("an endless answer without a newline is an error after 4 KiB, not a growing buffer", async () => {
    const tls = await testTls();
    let sent = 0;
    const flood = createTlsServer({ cert: tls.cert, key: tls.key }, (s) => {
      s.on("error", () => undefined);
      s.write("@");
      s.once("data", () => {
        const chunk = "x".repeat(16 * 1024);
        const pump = (): void => {
          while (!s.destroyed && sent < 64 * 1024 * 1024 && s.write(chunk)) sent += chunk.length;
          if (!s.destroyed) s.once("drain", pump);
        };
        pump();
      });
    });
    const port = await listen(flood);
    try {
      const { lookup } = proberDeps({ root: `127.0.0.1:${port}`, ca: tls.ca, timeoutMs: 10_000 });
      // The 10 s timeout would give another message: the 4 KiB cap ended it.
      const err = await lookup("alice").then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/longer than 4096 bytes/);
    } finally {
      flood.close();
    }
  });
});

describe("registrar prober configuration", () => {
  const env = {
    REGISTRAR_API_KEY: "test-api-key-0123456789abcdef",
    REGISTRAR_ADMIN_KEY: "test-admin-key-0123456789abcdef",
    REGISTRAR_ROOT: "root.example:64",
    REGISTRAR_DIRECTORY_FILE: "/x/records",
  };

  it("reads REGISTRAR_PROBE_* and REGISTRAR_PUBLIC_URL; defaults 60 s, 20 atSigns, 5 s; refuses bad values", () => {
    const plain = configFromEnv(env).registrar;
    expect(plain.probe).to.deep.equal({ intervalMs: 60_000, sampleSize: 20, timeoutMs: 5000 });
    expect(plain.publicUrl).to.equal(undefined);
    const set = configFromEnv({
      ...env,
      REGISTRAR_PROBE_INTERVAL_MS: "0",
      REGISTRAR_PROBE_SAMPLE: "5",
      REGISTRAR_PROBE_TIMEOUT_MS: "800",
      REGISTRAR_PUBLIC_URL: "https://registrar.example",
    }).registrar;
    expect(set.probe).to.deep.equal({ intervalMs: 0, sampleSize: 5, timeoutMs: 800 });
    expect(set.publicUrl).to.equal("https://registrar.example");
    for (const [k, v, msg] of [
      ["REGISTRAR_PROBE_INTERVAL_MS", "500", /intervalMs must be a whole number from 1000/],
      ["REGISTRAR_PROBE_SAMPLE", "0", /sampleSize/],
      ["REGISTRAR_PROBE_SAMPLE", "100000", /sampleSize/],
      ["REGISTRAR_PROBE_TIMEOUT_MS", "5x", /whole number/],
      ["REGISTRAR_PUBLIC_URL", "http://registrar.example", /https URL/],
      ["REGISTRAR_PUBLIC_URL", "not a url", /https URL/],
    ] as const)
      expect(() => configFromEnv({ ...env, [k]: v }), `${k}=${v}`).to.throw(ConfigError, msg);
  });

  it("targets: the root by its host, the public URL's host and port, each Engine API by swarm", () => {
    const deps = proberDeps({
      root: "root.example:64",
      publicUrl: "https://registrar.example:8443/x",
      engines: [{ swarm: "eu", host: "10.0.0.5", port: 2376, cert: "C", key: "K" }],
      timeoutMs: 1000,
    });
    expect(deps.certTargets).to.deep.equal([
      { cert: "root", target: "root.example", host: "root.example", port: 64 },
      { cert: "registrar", target: "registrar.example", host: "registrar.example", port: 8443 },
      {
        cert: "docker_api",
        target: "eu",
        host: "10.0.0.5",
        port: 2376,
        clientCert: { cert: "C", key: "K" },
      },
    ]);
  });
});
