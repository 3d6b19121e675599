// The real `atdirectory` bin as a child process: --help, configuration from the
// environment, clear errors for bad configuration, and the SIGTERM drain.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { helpText, parseArgs } from "@atplatform/directory";
import { freePort } from "../support/ports";
import { testTls } from "../support/test-ca";
import { greeted, sleep } from "./helpers";

const BIN = resolve(__dirname, "../../services/directory/bin/atdirectory.js");

interface Run {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const r: Run = {
    proc,
    stdout: "",
    stderr: "",
    exit: new Promise((res) => proc.once("exit", (code) => res(code))),
  };
  proc.stdout!.on("data", (d: Buffer) => (r.stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (r.stderr += d.toString()));
  return r;
}

async function waitForLog(r: Run, text: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!r.stdout.includes(text)) {
    if (r.proc.exitCode !== null) throw new Error(`exited: ${r.stderr}${r.stdout}`);
    if (Date.now() > end) throw new Error(`no "${text}" in ${r.stdout}`);
    await sleep(20);
  }
}

describe("atdirectory command line", () => {
  let tmp: string;
  let records: string;
  const running: Run[] = [];

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "atp-dir-cli-"));
    records = join(tmp, "records.txt");
    writeFileSync(records, "alice alice.test:6464\n");
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill("SIGKILL");
      await r.exit;
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("--help documents every flag and its environment variable", async () => {
    const r = run(["--help"]);
    expect(await r.exit).to.equal(0);
    for (const flag of ["port", "cert", "key", "records", "redis", "redis-ca", "upstream"]) {
      expect(r.stdout).to.include(`--${flag}  ATDIRECTORY_${flag.toUpperCase().replace("-", "_")}`);
    }
    for (const env of ["ATDIRECTORY_REDIS_PASSWORD", "ATDIRECTORY_UPSTREAM_CA"]) {
      expect(r.stdout).to.include(env);
    }
    expect(r.stdout).to.include("--http-port  ATDIRECTORY_HTTP_PORT");
  });

  it("every documented flag is honoured from the environment and from argv", async () => {
    // One sample value per flag listed in --help; a flag added without a sample fails here.
    const samples: Record<string, [string, string | number | string[]]> = {
      port: ["6464", 6464],
      host: ["127.0.0.1", "127.0.0.1"],
      cert: ["/c.pem,/r.pem", "/c.pem,/r.pem"],
      key: ["/k.pem", "/k.pem"],
      records: ["/r.txt", "/r.txt"],
      redis: ["", ""],
      "redis-ca": ["", ""],
      "redis-password": ["", ""],
      "redis-command-timeout-ms": ["700", 700],
      "redis-channel": ["chan", "chan"],
      "redis-sentinel-key": ["sent", "sent"],
      "redis-health-interval-ms": ["250", 250],
      "redis-max-replica-silence-ms": ["4000", 4000],
      "cache-ttl-ms": ["1234", 1234],
      "cache-max-stale-ms": ["777", 777],
      upstream: ["root.example:64", "root.example:64"],
      "upstream-ca": ["/u.pem", "/u.pem"],
      "upstream-timeout-ms": ["999", 999],
      "upstream-connections": ["2", 2],
      "upstream-cache-ttl-ms": ["5000", 5000],
      "http-port": ["9000", 9000],
      "http-host": ["::1", "::1"],
      "throttle-delay-ms": ["10", 10],
      "throttle-close-after": ["5", 5],
      "ip-miss-budget": ["7", 7],
      "ip-miss-window-ms": ["100", 100],
      "ip-budget-exempt": [
        "10.0.0.0/8, 192.0.2.7,fd00::/8",
        ["10.0.0.0/8", "192.0.2.7", "fd00::/8"],
      ],
      "max-connections": ["3", 3],
      "max-connections-per-ip": ["2", 2],
      "idle-timeout-ms": ["60000", 60000],
      "idle-timeout-under-load-ms": ["9000", 9000],
      "handshake-timeout-ms": ["2000", 2000],
      "drain-timeout-ms": ["3000", 3000],
      "shutdown-delay-ms": ["5000", 5000],
      "watch-interval-ms": ["500", 500],
      "log-level": ["debug", "debug"],
    };
    const documented = [...helpText().matchAll(/ATDIRECTORY_([A-Z_]+)/g)].map((m) =>
      m[1]!.toLowerCase().replace(/_/g, "-"),
    );
    expect([...new Set(documented)].sort()).to.deep.equal(Object.keys(samples).sort());
    const camel = (f: string) => f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const env: Record<string, string> = {};
    const argv: string[] = [];
    for (const [flag, [raw]] of Object.entries(samples)) {
      if (raw === "") continue;
      env[`ATDIRECTORY_${flag.toUpperCase().replace(/-/g, "_")}`] = raw;
      argv.push(`--${flag}`, raw);
    }
    const fromEnv = parseArgs([], env).config!;
    const fromArgv = parseArgs(argv, {}).config!;
    for (const [flag, [raw, want]] of Object.entries(samples)) {
      if (raw === "") continue;
      expect((fromEnv as any)[camel(flag)], flag).to.deep.equal(want);
      expect((fromArgv as any)[camel(flag)], flag).to.deep.equal(want);
    }
    // Redis settings (exclusive with --records) and the env-only password.
    const redis = parseArgs(["--cert", "c", "--key", "k"], {
      ATDIRECTORY_REDIS: "rediss://10.0.0.3:6378",
      ATDIRECTORY_REDIS_CA: "/ca.pem",
      ATDIRECTORY_REDIS_PASSWORD: "secret",
    }).config!;
    expect([redis.redis, redis.redisCa, redis.redisPassword]).to.deep.equal([
      "rediss://10.0.0.3:6378",
      "/ca.pem",
      "secret",
    ]);
    // The command line wins over the environment.
    expect(parseArgs(argv, { ...env, ATDIRECTORY_PORT: "1" }).config!.port).to.equal(6464);
  });

  it("runs from environment variables alone", async function () {
    this.timeout(15_000);
    const tls = await testTls();
    const [port, httpPort] = [await freePort(), await freePort()];
    const r = run([], {
      ATDIRECTORY_PORT: String(port),
      ATDIRECTORY_HOST: "127.0.0.1",
      ATDIRECTORY_CERT: tls.files.cert,
      ATDIRECTORY_KEY: tls.files.key,
      ATDIRECTORY_RECORDS: records,
      ATDIRECTORY_HTTP_PORT: String(httpPort),
      ATDIRECTORY_HTTP_HOST: "127.0.0.1",
    });
    running.push(r);
    await waitForLog(r, "atDirectory listening");
    const c = await greeted(port);
    expect(await c.lookup("Alice")).to.equal("alice.test:6464\r\n@");
    c.close();
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).to.equal(200);
    // Logs are pino JSON lines on stdout.
    expect(JSON.parse(r.stdout.split("\n")[0]!)).to.have.property("level");
    // SIGHUP re-reads the records file and the certificate, and the process keeps running.
    const loads = () => r.stdout.split('"msg":"records loaded"').length - 1;
    expect(loads()).to.equal(1);
    r.proc.kill("SIGHUP");
    await waitForLog(r, '"msg":"certificate reloaded"');
    for (let i = 0; loads() < 2; i++) {
      if (i > 200) throw new Error("no reload after SIGHUP");
      await sleep(20);
    }
    const again = await greeted(port);
    expect(await again.lookup("alice")).to.equal("alice.test:6464\r\n@");
    again.close();
  });

  const badConfigs: [string, string[], Record<string, string>, RegExp][] = [
    ["no certificate", ["--records", "r"], {}, /--cert \(ATDIRECTORY_CERT\) is required/],
    ["no store", ["--cert", "c", "--key", "k"], {}, /no store: give --records/],
    ["unknown flag", ["--prot", "64"], {}, /unknown flag --prot/],
    ["bad integer", ["--port", "sixty"], {}, /--port: expected an integer/],
    ["bad env integer", [], { ATDIRECTORY_PORT: "x" }, /ATDIRECTORY_PORT: expected an integer/],
    [
      "password on argv",
      ["--redis-password", "pw"],
      {},
      /not accepted on the command line; set ATDIRECTORY_REDIS_PASSWORD/,
    ],
    [
      "password in an argv URL",
      ["--cert", "c", "--key", "k", "--redis", "redis://:pw@127.0.0.1:6379"],
      {},
      /must not contain a password/,
    ],
    ["bad upstream", ["--upstream", "nohost"], {}, /--upstream: expected host:port/],
    [
      "bad exempt range",
      ["--ip-budget-exempt", "10.0.0.0/33"],
      {},
      /--ip-budget-exempt: "10.0.0.0\/33": prefix length must be 0-32/,
    ],
    [
      "bad exempt address",
      [],
      { ATDIRECTORY_IP_BUDGET_EXEMPT: "10.0.0.1,monitoring" },
      /ATDIRECTORY_IP_BUDGET_EXEMPT: "monitoring" is not an IP address or CIDR range/,
    ],
  ];
  for (const [name, args, env, message] of badConfigs) {
    it(`rejects bad configuration with a clear message: ${name}`, () => {
      expect(() => parseArgs(args, env)).to.throw(message);
    });
  }

  it("the bin prints configuration errors and exits 1 (bad records file, bad cert path)", async function () {
    this.timeout(15_000);
    const tls = await testTls();
    const bad = join(tmp, "bad.txt");
    writeFileSync(bad, "alice alice.test:1\nbob\n");
    const r1 = run([
      "--cert",
      tls.files.cert,
      "--key",
      tls.files.key,
      "--records",
      bad,
      "--port",
      "0",
      "--http-port",
      "-1",
    ]);
    expect(await r1.exit).to.equal(1);
    expect(r1.stderr).to.include(`--records: ${bad}:2: expected "atsign host:port"`);
    const r2 = run(["--cert", "/nonexistent.pem", "--key", tls.files.key, "--records", records]);
    expect(await r2.exit).to.equal(1);
    expect(r2.stderr).to.match(/--cert: cannot read \/nonexistent.pem/);
    const r3 = run([]);
    expect(await r3.exit).to.equal(1);
    expect(r3.stderr.trim()).to.equal("--cert (ATDIRECTORY_CERT) is required");
  });

  it("SIGTERM drains: in-flight lookups are answered, then the process exits 0", async function () {
    this.timeout(15_000);
    const tls = await testTls();
    const port = await freePort();
    const r = run([
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--cert",
      tls.files.cert,
      "--key",
      tls.files.key,
      "--records",
      records,
      "--http-port",
      "-1",
      "--throttle-delay-ms",
      "1000",
    ]);
    running.push(r);
    await waitForLog(r, "atDirectory listening");
    const idle = await greeted(port);
    const busy = await greeted(port);
    expect(await busy.lookup("u1")).to.equal("null\r\n@");
    // u2 is held back 1 s by the throttle; alice is queued behind it.
    busy.send("u2\nalice\n");
    await sleep(400); // received before SIGTERM (the answers are the same if not yet sent)
    r.proc.kill("SIGTERM");
    await idle.waitForClose(3000);
    await sleep(100);
    // The listener is closed: new connections are refused.
    const refused = await new Promise<boolean>((res) => {
      const s = tcpConnect(port, "127.0.0.1");
      s.on("connect", () => {
        s.destroy();
        res(false);
      });
      s.on("error", () => res(true));
    });
    expect(refused).to.equal(true);
    await busy.waitForClose(5000);
    expect(busy.text).to.equal(
      "@null\r\nnull\r\n@alice.test:6464\r\n@".replace("null\r\nnull", "null\r\n@null"),
    );
    expect(await r.exit).to.equal(0);
    expect(r.stdout).to.include('"msg":"draining"');
  });
});
