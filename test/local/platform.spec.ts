// End to end from a fresh data directory: `npm start` as a child process, the CLI as
// separate processes, Ctrl-C (SIGINT to the process group, as a terminal sends it).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { freePort } from "../support/ports";

const REPO = resolve(__dirname, "../..");
const CLI = join(REPO, "services/local/bin/atplatform.js");

function atServerPids(home: string): number[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
      if (cmd.includes("atserver.js") && cmd.includes(home)) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe("local platform end to end (npm start + atplatform CLI)", function () {
  this.timeout(60_000);
  let home: string;
  let keys: string;
  let env: NodeJS.ProcessEnv;
  let platform: ChildProcess | undefined;
  let output = "";

  async function startPlatform(): Promise<void> {
    output = "";
    platform = spawn("npm", ["start", "--silent"], { cwd: REPO, env, detached: true });
    platform.stdout!.on("data", (d) => (output += d));
    platform.stderr!.on("data", (d) => (output += d));
    const deadline = Date.now() + 30_000;
    while (!output.includes("Press Ctrl-C to stop.")) {
      if (platform.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Ctrl-C: SIGINT to the whole process group. npm re-raises the signal once its script
   * has exited, so success is the platform's own "stopped." line.
   */
  async function interrupt(): Promise<string> {
    const p = platform!;
    // "close", not "exit": the last lines may still be in the pipe when the process exits.
    const exited = new Promise<void>((r) => p.once("close", () => r()));
    process.kill(-p.pid!, "SIGINT");
    await exited;
    platform = undefined;
    return output;
  }

  function cli(...args: string[]): { code: number | null; out: string } {
    return cliWithInput("", ...args);
  }

  function cliWithInput(input: string, ...args: string[]): { code: number | null; out: string } {
    const r = spawnSync(process.execPath, [CLI, ...args, "--keys", keys], {
      env,
      input,
      encoding: "utf8",
      timeout: 30_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "atp-local-"));
    keys = join(home, "keys");
    const base = await freePort();
    env = {
      ...process.env,
      ATPLATFORM_HOME: join(home, "data"),
      ROOT_PORT: String(await freePort()),
      REGISTRAR_PORT: String(await freePort()),
      ATPLATFORM_ATSERVER_PORTS: `${base}-${base + 20}`,
      REGISTRAR_API_KEY: "local-e2e-api-key-0123456789",
      LOG_LEVEL: "warn",
    };
  });
  after(async () => {
    if (platform?.pid && platform.exitCode === null) {
      try {
        process.kill(-platform.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    for (const pid of atServerPids(home)) process.kill(pid, "SIGKILL");
    rmSync(home, { recursive: true, force: true });
  });

  it("first run creates the CA and prints root, registrar, CA file, data dir and API key", async () => {
    await startPlatform();
    const data = env.ATPLATFORM_HOME!;
    expect(output).to.contain(`Root (atDirectory):  127.0.0.1:${env.ROOT_PORT}`);
    expect(output).to.contain(`Registrar:           http://127.0.0.1:${env.REGISTRAR_PORT}`);
    expect(output).to.contain(`CA file to trust:    ${join(data, "ca.pem")}`);
    expect(output).to.contain(`Data directory:      ${data}`);
    expect(output).to.contain("local-e2e-api-key-0123456789 (from REGISTRAR_API_KEY)");
    expect(readFileSync(join(data, "ca.pem"), "utf8")).to.contain("BEGIN CERTIFICATE");
    expect(statSync(join(data, "ca-key.pem")).mode & 0o777).to.equal(0o600);
    const status = cli("status");
    expect(status.code, status.out).to.equal(0);
    expect(status.out).to.contain("answering");
  });

  it("registers and onboards two atSigns with the CLI (.atKeys written)", () => {
    for (const who of ["@e2ealice", "@e2ebob"]) {
      const r = cli("register", who);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.contain(`registered ${who}`);
      expect(r.out).to.contain(`onboarded ${who}`);
      const file = join(keys, `${who}_key.atKeys`);
      const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
      expect(Object.keys(json).sort()).to.deep.equal([
        "aesEncryptPrivateKey",
        "aesEncryptPublicKey",
        "aesPkamPrivateKey",
        "aesPkamPublicKey",
        "selfEncryptionKey",
      ]);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
    }
    const look = cli("lookup", "@e2ealice");
    expect(look.out.trim()).to.match(/^127\.0\.0\.1:\d+$/);
    const status = cli("status");
    expect(status.out).to.match(/@e2ealice\s+active\s+127\.0\.0\.1:\d+/);
    expect(status.out).to.match(/@e2ebob\s+active/);
  });

  it("Low: register --no-onboard puts the secret in a 0600 file, not on a suggested command line; onboard reads a file or stdin", () => {
    const r = cli("register", "@e2edave", "--no-onboard");
    expect(r.code, r.out).to.equal(0);
    const file = join(keys, "@e2edave.cram");
    const secret = readFileSync(file, "utf8").trim();
    expect(secret).to.match(/^[0-9a-f]{128}$/);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(r.out).not.to.contain(secret);
    expect(r.out).to.contain(`onboard @e2edave --cram-file ${file}`);
    const onboarded = cliWithInput(
      `@e2edave:${secret}\n`,
      "onboard",
      "@e2edave",
      "--cram-file",
      "-",
    );
    expect(onboarded.code, onboarded.out).to.equal(0);
    expect(onboarded.out).to.contain("onboarded @e2edave");
  });

  it("registers with the email flow; the one-time code is printed in the platform's log", async () => {
    const child = spawn(
      process.execPath,
      [CLI, "register", "@e2ecarol", "--email", "carol@example.com", "--keys", keys],
      { env },
    );
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const deadline = Date.now() + 20_000;
    let code: string | undefined;
    while (!code) {
      code = /email to carol@example\.com: .*?(\d{6})/.exec(output)?.[1];
      if (Date.now() > deadline) throw new Error(`no code in the log:\n${output}\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    while (!out.includes("One-time code")) await new Promise((r) => setTimeout(r, 50));
    child.stdin!.write(`${code}\n`);
    const exit = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(exit, out).to.equal(0);
    expect(out).to.contain("onboarded @e2ecarol");
  });

  it("put, get, scan and delete on one's own atServer", () => {
    expect(cli("put", "@e2ealice", "greeting", "hello", "world").code).to.equal(0);
    expect(cli("get", "@e2ealice", "greeting").out.trim()).to.equal("hello world");
    expect(cli("put", "@e2ealice", "card", "alice's card", "--public").code).to.equal(0);
    expect(cli("get", "@e2ealice", "card", "--public").out.trim()).to.equal("alice's card");
    const scan = cli("scan", "@e2ealice");
    expect(scan.out.split("\n")).to.include.members(["greeting@e2ealice", "public:card@e2ealice"]);
    expect(cli("delete", "@e2ealice", "greeting").code).to.equal(0);
    const gone = cli("get", "@e2ealice", "greeting");
    expect(gone.code).to.equal(1);
    expect(gone.out).to.contain("does not exist");
  });

  it("shares a value from one atSign to the other (atServer to atServer)", () => {
    const pub = cli("get", "@e2ebob", "card", "--from", "@e2ealice", "--public");
    expect(pub.code, pub.out).to.equal(0);
    expect(pub.out.trim()).to.equal("alice's card");
    const put = cli("put", "@e2ealice", "dinner", "Friday 7pm", "--shared-with", "@e2ebob");
    expect(put.code, put.out).to.equal(0);
    const got = cli("get", "@e2ebob", "dinner", "--from", "@e2ealice");
    expect(got.code, got.out).to.equal(0);
    expect(got.out.trim()).to.equal("Friday 7pm");
    const own = cli("get", "@e2ealice", "dinner", "--shared-with", "@e2ebob");
    expect(own.out.trim()).to.equal("Friday 7pm");
  });

  it("delivers a notification: bob monitors, alice notifies, bob decrypts it", async () => {
    // --since closes the gap between starting the monitor and the server registering it.
    const since = Date.now() - 1000;
    const monitor = spawn(
      process.execPath,
      [
        CLI,
        "monitor",
        "@e2ebob",
        "ping",
        "--count",
        "1",
        "--timeout",
        "30",
        "--since",
        String(since),
        "--keys",
        keys,
      ],
      { env },
    );
    let seen = "";
    monitor.stdout!.on("data", (d) => (seen += d));
    monitor.stderr!.on("data", (d) => (seen += d));
    const exited = new Promise<number | null>((r) => monitor.once("exit", (c) => r(c)));
    const sent = cli("notify", "@e2ealice", "@e2ebob", "ping", "hello", "bob");
    expect(sent.code, sent.out).to.equal(0);
    expect(sent.out).to.match(/^notification \S+ sent to @e2ebob/);
    expect(await exited, seen).to.equal(0);
    expect(seen).to.contain("@e2ealice → @e2ebob:ping@e2ealice: hello bob");
  });

  it("Ctrl-C stops everything; the next start keeps every atSign and its data", async () => {
    const before = atServerPids(home);
    expect(before).to.have.length(4);
    expect(await interrupt()).to.match(/SIGINT: stopping the atPlatform…\nstopped\.\n/);
    expect(atServerPids(home)).to.have.length(0);
    expect(existsSync(join(env.ATPLATFORM_HOME!, "platform.pid"))).to.equal(false);

    await startPlatform();
    expect(output).to.contain("atSigns active:      4");
    expect(atServerPids(home)).to.have.length(4);
    expect(cli("get", "@e2ealice", "card", "--public").out.trim()).to.equal("alice's card");
    expect(await interrupt()).to.contain("stopped.");
    expect(atServerPids(home)).to.have.length(0);
  });
});
