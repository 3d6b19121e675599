// Real `atserver` child processes: the CLI, durability across kill -9, exclusive storage,
// SIGTERM, the CRAM secret's handling, environment variables and certificate reload.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { AtClient, AuthFailedError, generateRsaKeyPair } from "@atplatform/protocol";
import { freePort } from "../support/ports";
import { testTls } from "../support/test-ca";
import { AtServerProcess, BIN, SECRET, tempDir } from "./harness";

async function connect(port: number): Promise<AtClient> {
  const tls = await testTls();
  return AtClient.connect({
    host: "127.0.0.1",
    port,
    ca: tls.ca,
    atSign: "@alice",
    timeoutMs: 5000,
  });
}

describe("atserver: the process (real child processes)", function () {
  this.timeout(30_000);
  let dir: string;
  let secretFile: string;
  const procs: AtServerProcess[] = [];
  beforeEach(() => {
    dir = tempDir();
    secretFile = join(dir, "secret");
    writeFileSync(secretFile, `${SECRET}\n`);
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  async function start(
    opts: Partial<Parameters<typeof AtServerProcess.start>[0]> = {},
  ): Promise<AtServerProcess> {
    const p = await AtServerProcess.start({ storage: join(dir, "store"), secretFile, ...opts });
    procs.push(p);
    await p.ready();
    return p;
  }

  it("--help prints the usage; missing flags exit non-zero with a message", () => {
    const help = spawnSync(process.execPath, [BIN, "--help"], { encoding: "utf8" });
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include("Usage: atserver -a @alice -p <port>");
    expect(help.stdout).to.include("ATSERVER_");
    const bad = spawnSync(process.execPath, [BIN, "-a", "@alice"], { encoding: "utf8", env: {} });
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.include("missing required");
    const secretArg = spawnSync(process.execPath, [BIN, "--cram-secret", "x"], {
      encoding: "utf8",
    });
    expect(secretArg.status).to.equal(1);
    expect(secretArg.stderr).to.include("environment only");
  });

  it("every acknowledged update survives kill -9 in the middle of a stream of updates", async () => {
    const p = await start();
    const c = await connect(p.port);
    await c.cram(SECRET);
    const acked: number[] = [];
    let next = 0;
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const i = next++;
        try {
          await c.execute(`update:public:k${i}.durable@alice value-${i}`);
          acked.push(i);
        } catch {
          return;
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    while (acked.length < 150) await new Promise((r) => setTimeout(r, 5));
    killed = true;
    await p.kill("SIGKILL");
    await Promise.all(writers);
    c.destroy();
    const again = await start({ port: p.port });
    const r = await connect(again.port);
    await r.cram(SECRET);
    for (const i of acked) {
      expect(await r.execute(`llookup:public:k${i}.durable@alice`)).to.equal(`value-${i}`);
    }
    r.destroy();
  });

  it("a second process on the same storage is refused", async () => {
    await start();
    const second = await AtServerProcess.start({ storage: join(dir, "store"), secretFile });
    procs.push(second);
    const code = await second.exited;
    expect(code).to.not.equal(0);
    expect(second.stderr.join("")).to.match(/locked/i);
  });

  it("SIGTERM stops gracefully (exit 0) and releases the storage for a restart", async () => {
    const p = await start();
    const c = await connect(p.port);
    await c.cram(SECRET);
    await c.execute("update:public:before.term@alice kept");
    expect(await p.kill("SIGTERM")).to.equal(0);
    c.destroy();
    const again = await start();
    const r = await connect(again.port);
    await r.cram(SECRET);
    expect(await r.execute("llookup:public:before.term@alice")).to.equal("kept");
    r.destroy();
  });

  it("the CRAM secret is read from its file, never logged, and never re-imported after deletion", async () => {
    const pkam = generateRsaKeyPair();
    const p = await start({ extraArgs: ["--log-level", "debug"] });
    const c = await connect(p.port);
    await c.cram(SECRET);
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.execute("delete:privatekey:at_secret");
    c.destroy();
    expect(await p.kill("SIGTERM")).to.equal(0);
    expect(p.stderr.join("")).to.not.include(SECRET);
    // The secret file is still there: the restarted server must not bring CRAM back.
    const again = await start({ extraArgs: ["--log-level", "debug"] });
    const r = await connect(again.port);
    expect(await r.cram(SECRET).catch((e: unknown) => e)).to.be.instanceOf(AuthFailedError);
    await r.pkam(pkam.privateKey);
    r.destroy();
    expect(again.stderr.join("")).to.not.include(SECRET);
  });

  it("accepts every setting from the environment: ATSERVER_* and the reference names", async () => {
    const tls = await testTls();
    const port = await freePort();
    const env = {
      ATSERVER_AT_SIGN: "@envy",
      ATSERVER_PORT: String(port),
      ATSERVER_HOST: "127.0.0.1",
      securityCertificateChainLocation: tls.files.cert,
      securityPrivateKeyLocation: tls.files.key,
      secondaryStoragePath: join(dir, "envstore"),
      ATSERVER_CRAM_SECRET_FILE: secretFile,
      inbound_max_limit: "7",
      ATSERVER_LOG_LEVEL: "silent",
    };
    const { spawn } = await import("node:child_process");
    const proc = spawn(process.execPath, [BIN], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let c: AtClient | undefined;
      const deadline = Date.now() + 15_000;
      while (!c) {
        try {
          c = await AtClient.connect({
            host: "127.0.0.1",
            port,
            ca: tls.ca,
            atSign: "@envy",
            timeoutMs: 2000,
          });
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await c.cram(SECRET);
      expect(c.prompt).to.equal("@envy@");
      expect(existsSync(join(dir, "envstore"))).to.equal(true);
      c.destroy();
    } finally {
      proc.kill("SIGKILL");
    }
  });

  it("reloads its certificate on the `restart` file (then deletes it) and on file change", async () => {
    const certs = join(dir, "certs");
    mkdirSync(certs);
    const first = await testTls();
    const second = await testTls(["reloaded.example"]);
    const third = await testTls(["again.example"]);
    copyFileSync(first.files.cert, join(certs, "fullchain.pem"));
    copyFileSync(first.files.key, join(certs, "privkey.pem"));
    const p = await start({
      extraArgs: [
        "--cert",
        join(certs, "fullchain.pem"),
        "--key",
        join(certs, "privkey.pem"),
        "--cert-poll-ms",
        "100",
      ],
    });
    const san = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: "127.0.0.1", port: p.port, ca: first.ca }, () => {
          resolve(s.getPeerCertificate().subjectaltname ?? "");
          s.destroy();
        });
        s.on("error", reject);
      });
    const waitSan = async (name: string) => {
      const deadline = Date.now() + 10_000;
      while (!(await san()).includes(name)) {
        if (Date.now() > deadline) throw new Error(`certificate with ${name} not served`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    expect(await san()).to.not.include("reloaded.example");
    // Write the new pair, then drop the trigger file, as the renewer does.
    writeFileSync(join(certs, "fullchain.pem"), readFileSync(second.files.cert));
    writeFileSync(join(certs, "privkey.pem"), readFileSync(second.files.key));
    writeFileSync(join(certs, "restart"), "");
    await waitSan("reloaded.example");
    const deadline = Date.now() + 5000;
    while (existsSync(join(certs, "restart")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(certs, "restart"))).to.equal(false);
    // A plain file change (no trigger file) is picked up too.
    writeFileSync(join(certs, "fullchain.pem"), readFileSync(third.files.cert));
    writeFileSync(join(certs, "privkey.pem"), readFileSync(third.files.key));
    await waitSan("again.example");
    // The server still answers the protocol after the reloads.
    const c = await connect(p.port);
    expect(await c.execute("info:brief")).to.include("version");
    c.destroy();
  });
});
