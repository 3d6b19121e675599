// The CLI as a user runs it (child processes, a temp HOME) against one real local platform:
// keys files (B1), the registrar's secret form (B2), monitor readiness (B3), argument handling
// (B5) and running from any directory (B4).
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { LocalPlatform, localConfigFromEnv } from "@atplatform/local";
import { setRegistrarLogLevel } from "@atplatform/registrar";
import { freePort } from "../support/ports";

const REPO = resolve(__dirname, "../..");
const CLI = join(REPO, "services/local/bin/atplatform.js");

interface Run {
  code: number | null;
  out: string;
  err: string;
}

describe("atplatform CLI as a user runs it (temp HOME, one local platform)", function () {
  this.timeout(60_000);
  let tmp: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  let platform: LocalPlatform;

  /** Asynchronous: the platform runs in this process, so the event loop must keep turning. */
  async function cli(
    args: string[],
    opts: {
      input?: string;
      cwd?: string;
      bin?: string;
      prefix?: string[];
      env?: NodeJS.ProcessEnv;
    } = {},
  ): Promise<Run> {
    const bin = opts.bin ? [opts.bin, ...(opts.prefix ?? [])] : [process.execPath, CLI];
    const child = spawn(bin[0]!, [...bin.slice(1), ...args], {
      env: opts.env ?? env,
      cwd: opts.cwd ?? tmp,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.stdin.end(opts.input ?? "");
    const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
    return { code, out, err };
  }

  before(async () => {
    setRegistrarLogLevel("error");
    tmp = mkdtempSync(join(tmpdir(), "atp-cli-"));
    data = join(tmp, ".atplatform");
    const base = await freePort();
    env = {
      ...process.env,
      HOME: tmp,
      ATPLATFORM_HOME: data,
      LOG_LEVEL: "warn",
    };
    delete env.REGISTRAR_API_KEY;
    delete env.REGISTRAR_ADMIN_KEY;
    platform = new LocalPlatform(
      localConfigFromEnv({
        ATPLATFORM_HOME: data,
        ROOT_PORT: String(await freePort()),
        REGISTRAR_PORT: String(await freePort()),
        ATPLATFORM_ATSERVER_PORTS: `${base}-${base + 20}`,
      }),
      { print: () => {} },
    );
    await platform.start();
  });
  after(async () => {
    await platform?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("B1: register keeps local keys in $ATPLATFORM_HOME/keys, never in ~/.atsign/keys", async () => {
    const r = await cli(["register", "@clialice"]);
    expect(r.code, r.out + r.err).to.equal(0);
    const file = join(data, "keys", "@clialice_key.atKeys");
    expect(r.out).to.contain(`keys written to ${file}`);
    expect(Object.keys(JSON.parse(readFileSync(file, "utf8")))).to.include("aesPkamPrivateKey");
    expect(existsSync(join(tmp, ".atsign"))).to.equal(false);
    // The keys work: a value round-trips through the atServer.
    expect((await cli(["put", "@clialice", "phone", "555"])).code).to.equal(0);
    expect((await cli(["get", "@clialice", "phone"])).out.trim()).to.equal("555");
  });

  it("B1: register refuses to overwrite an existing keys file, before asking the registrar", async () => {
    const keys = join(tmp, "real-keys");
    mkdirSync(keys);
    const real = join(keys, "@clibob_key.atKeys");
    writeFileSync(real, "REAL KEYS");
    const r = await cli(["register", "@clibob", "--keys", keys]);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`refusing to overwrite ${real}`);
    expect(readFileSync(real, "utf8")).to.equal("REAL KEYS");
    // The registrar never handed out @clibob: it is still free for a later attempt.
    const status = await cli(["status"]);
    expect(status.out).not.to.contain("@clibob");
  });

  it("B1: onboard refuses an existing keys file without spending the secret; --force keeps a .bak", async () => {
    expect((await cli(["register", "@clicarol", "--no-onboard"])).code).to.equal(0);
    const cram = join(data, "keys", "@clicarol.cram");
    const keysFile = join(data, "keys", "@clicarol_key.atKeys");
    writeFileSync(keysFile, "OLD KEYS");
    const refused = await cli(["onboard", "@clicarol", "--cram-file", cram]);
    expect(refused.code).to.equal(1);
    expect(refused.err).to.contain("refusing to overwrite");
    expect(readFileSync(keysFile, "utf8")).to.equal("OLD KEYS");
    // Unspent: the same secret still onboards once the user says so.
    const forced = await cli(["onboard", "@clicarol", "--cram-file", cram, "--force"]);
    expect(forced.code, forced.out + forced.err).to.equal(0);
    const backups = readdirSync(join(data, "keys")).filter((f) => f.endsWith(".bak"));
    expect(backups).to.have.length(1);
    expect(readFileSync(join(data, "keys", backups[0]!), "utf8")).to.equal("OLD KEYS");
    expect(readFileSync(keysFile, "utf8")).to.contain("aesPkamPrivateKey");
  });

  it("B2: onboard --cram takes the secret as the registrar page shows it (@name:SECRET)", async () => {
    expect((await cli(["register", "@clidave", "--no-onboard"])).code).to.equal(0);
    const secret = readFileSync(join(data, "keys", "@clidave.cram"), "utf8").trim();
    const wrong = await cli(["onboard", "@clidave", "--cram", `@clialice:${secret}`]);
    expect(wrong.code).to.equal(2);
    expect(wrong.err).to.contain("that activation secret is for @clialice, not @clidave");
    const r = await cli(["onboard", "@clidave", "--cram", `@clidave:${secret}`]);
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.contain("onboarded @clidave");
  });

  it("B3: a monitor started in the background gets a notification sent while it is still connecting", async () => {
    const monitor = spawn(
      process.execPath,
      [CLI, "monitor", "@clidave", "race", "--count", "1", "--timeout", "40"],
      { env, cwd: tmp },
    );
    let seen = "";
    monitor.stdout!.on("data", (d) => (seen += d));
    monitor.stderr!.on("data", (d) => (seen += d));
    const exited = new Promise<number | null>((r) => monitor.once("exit", (c) => r(c)));
    // Let node start (its clock origin is set at startup), then freeze the monitor until
    // the notification is delivered: the worst case of `monitor … &` followed by `notify`.
    const ticks = (): number => {
      const stat = readFileSync(`/proc/${monitor.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]);
    };
    while (ticks() < 5) await new Promise((r) => setTimeout(r, 20));
    process.kill(monitor.pid!, "SIGSTOP");
    try {
      const sent = await cli(["notify", "@clialice", "@clidave", "race", "hello"]);
      expect(sent.code, sent.out + sent.err).to.equal(0);
    } finally {
      process.kill(monitor.pid!, "SIGCONT");
    }
    expect(await exited, seen).to.equal(0);
    expect(seen).to.contain("@clialice → @clidave:race@clialice: hello");
  });

  it("B5: a usage error prints the command's one usage line and exits 2", async () => {
    const r = await cli(["put", "@clialice"]);
    expect(r.code).to.equal(2);
    expect(r.err).to.equal(
      "missing key name\nusage: atplatform put @alice name value [--public | --shared-with @bob]\n",
    );
    const unknown = await cli(["get", "@clialice", "phone", "--bogus"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.match(/^Unknown option '--bogus'/);
    expect(unknown.err.split("\n").filter(Boolean)).to.have.length(2);
    const nocmd = await cli(["frobnicate"]);
    expect(nocmd.code).to.equal(2);
    expect(nocmd.err).to.equal("unknown command frobnicate\nsee: atplatform --help\n");
  });

  it("B5: numbers are validated (--count, --timeout, --since)", async () => {
    for (const bad of [
      ["--count", "abc"],
      ["--count=-1"],
      ["--timeout", "1.5"],
      ["--since", "yesterday"],
    ]) {
      const r = await cli(["monitor", "@clialice", ...bad]);
      expect(r.code, bad.join(" ")).to.equal(2);
      expect(r.err).to.contain(`${bad[0]!.split("=")[0]} must be a whole number`);
    }
  });

  it("B5: --version everywhere; --help per command", async () => {
    for (const args of [["--version"], ["lookup", "--version"], ["start", "--version"]]) {
      const r = await cli(args);
      expect(r.code).to.equal(0);
      expect(r.out).to.equal("atplatform 0.1.0\n");
    }
    const help = await cli(["monitor", "--help"]);
    expect(help.code).to.equal(0);
    expect(help.out).to.match(/^Usage: atplatform monitor @bob \[regex\]/);
    expect((await cli(["--help"])).out).to.contain("register [@name]");
  });

  it("B5: lookup of an unknown atSign exits non-zero", async () => {
    const r = await cli(["lookup", "@clinobody"]);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain("the root does not know @clinobody");
    expect((await cli(["lookup", "@clialice"])).out).to.match(/^127\.0\.0\.1:\d+\n$/);
  });

  it("B5: start --home is honoured", async () => {
    // The running platform's home given only by --home (the environment names another, and
    // a taken port keeps a wrong start from running): refused by the home's lock.
    const info = JSON.parse(readFileSync(join(data, "platform.json"), "utf8"));
    const r = await cli(["start", "--home", data], {
      env: { ...env, ATPLATFORM_HOME: join(tmp, "elsewhere"), ROOT_PORT: info.root.split(":")[1] },
    });
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`is using ${data}`);
  });

  it("B5: a port clash names the setting to change and leaves no half-made home", async () => {
    const fresh = join(tmp, "fresh-home");
    const info = JSON.parse(readFileSync(join(data, "platform.json"), "utf8"));
    const rootPort = info.root.split(":")[1];
    const r = await cli(["start", "--home", fresh], { env: { ...env, ROOT_PORT: rootPort } });
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`port ${rootPort} is already in use`);
    expect(r.err).to.contain(`set ROOT_PORT to a free port`);
    expect(existsSync(fresh)).to.equal(false);
  });

  it("B5: registrar --help prints help instead of starting (or failing on missing settings)", async () => {
    const bin = join(REPO, "services/registrar/bin/registrar.js");
    const bare = { ...env };
    for (const k of Object.keys(bare)) if (k.startsWith("REGISTRAR_")) delete bare[k];
    const help = await cli(["--help"], { bin: process.execPath, env: bare, prefix: [bin] });
    expect(help.code, help.err).to.equal(0);
    expect(help.out).to.match(/^Usage: node services\/registrar\/bin\/registrar\.js\n/);
    expect(help.out).to.contain("REGISTRAR_ADMIN_KEY");
    const stray = await cli(["--port", "1"], { bin: process.execPath, env: bare, prefix: [bin] });
    expect(stray.code).to.equal(1);
    expect(stray.err).to.contain("unexpected argument --port");
  });

  it("B4: runs from any directory through a global link (npm link / npm install -g .)", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    expect(pkg.bin).to.deep.equal({ atplatform: "services/local/bin/atplatform.js" });
    // What npm link creates: <prefix>/bin/atplatform -> the repository's bin file.
    const bin = join(tmp, "prefix", "bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(REPO, pkg.bin.atplatform), join(bin, "atplatform"));
    const elsewhere = mkdtempSync(join(tmpdir(), "atp-cwd-"));
    try {
      const r = await cli(["lookup", "@clialice"], {
        cwd: elsewhere,
        bin: join(bin, "atplatform"),
      });
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/^127\.0\.0\.1:\d+\n$/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  /** A CLI child left running (enroll waits for approval); resolves with its output. */
  function background(args: string[]): {
    lines: () => string;
    done: Promise<{ code: number | null; out: string }>;
  } {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: tmp });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const done = new Promise<{ code: number | null; out: string }>((r) =>
      child.once("close", (code) => r({ code, out })),
    );
    return { lines: () => out, done };
  }

  async function pendingId(run: { lines: () => string }): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = /enrollment (\S+) pending/.exec(run.lines());
      if (m) return m[1]!;
      if (Date.now() > deadline) throw new Error(`no enrollment id:\n${run.lines()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it("C: APKAM from the CLI: otp, enroll waits, list, approve; the device's keys work until revoked", async () => {
    const device = join(tmp, "laptop-keys");
    const code = (await cli(["otp", "@clialice"])).out.trim();
    expect(code).to.match(/^[A-NP-Z1-9]{6,}$/);
    const run = background([
      "enroll",
      "@clialice",
      "--app",
      "cliapp",
      "--device",
      "laptop",
      "--namespaces",
      "wavi:rw",
      "--otp",
      code,
      "--keys",
      device,
      "--timeout",
      "40",
    ]);
    const id = await pendingId(run);
    const listed = await cli(["list", "@clialice"]);
    expect(listed.out).to.contain(`${id}  pending  cliapp/laptop  wavi:rw`);
    const approved = await cli(["approve", "@clialice", id]);
    expect(approved.out, approved.err).to.equal(`${id}: approved\n`);
    const enrolled = await run.done;
    expect(enrolled.code, enrolled.out).to.equal(0);
    const file = join(device, "@clialice_key.atKeys");
    expect(JSON.parse(readFileSync(file, "utf8")).enrollmentId).to.equal(id);
    // The device holds the atSign's own encryption keys: what it stores, the owner reads.
    const put = await cli(["put", "@clialice", "note.wavi", "from the laptop", "--keys", device]);
    expect(put.code, put.err).to.equal(0);
    expect((await cli(["get", "@clialice", "note.wavi"])).out).to.equal("from the laptop\n");
    // Outside its namespaces it is refused.
    expect((await cli(["get", "@clialice", "phone", "--keys", device])).code).to.equal(1);
    expect((await cli(["revoke", "@clialice", id])).out).to.equal(`${id}: revoked\n`);
    const after = await cli(["get", "@clialice", "note.wavi", "--keys", device]);
    expect(after.code).to.equal(1);
    expect(after.err).to.contain("revoked");
  });

  it("C: a denied enrollment ends the waiting enroll with an error and writes no keys", async () => {
    const device = join(tmp, "phone-keys");
    const code = (await cli(["otp", "@clialice"])).out.trim();
    const run = background([
      "enroll",
      "@clialice",
      "--app",
      "cliapp",
      "--device",
      "phone",
      "--namespaces",
      "wavi:r",
      "--otp",
      code,
      "--keys",
      device,
      "--timeout",
      "40",
    ]);
    const id = await pendingId(run);
    expect((await cli(["deny", "@clialice", id])).out).to.equal(`${id}: denied\n`);
    const r = await run.done;
    expect(r.code).to.equal(1);
    expect(r.out).to.contain("denied");
    expect(existsSync(join(device, "@clialice_key.atKeys"))).to.equal(false);
    const bad = await cli([
      "enroll",
      "@clialice",
      "--app",
      "x",
      "--device",
      "y",
      "--namespaces",
      "wavi:rwx",
      "--otp",
      "ABC123",
    ]);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain('"wavi:rwx" is not namespace:r or namespace:rw');
  });

  it("C: admin CLI: health, list, status, suspend/resume; reset and delete need --yes", async () => {
    const health = await cli(["admin", "health"]);
    expect(health.code, health.err).to.equal(0);
    expect(health.out).to.match(/^registrar: http:\/\/127\.0\.0\.1:\d+ ok\n/);
    expect(health.out).to.contain("admin key: accepted");
    expect(health.out).to.match(/atServers: (\d+)\/\1 answering; versions \d+\.\d+\.\d+\S* ×\1\n/);
    expect((await cli(["admin", "list"])).out).to.match(
      /@clialice\s+active\s+local\s+127\.0\.0\.1:\d+/,
    );
    const status = await cli(["admin", "status", "@clidave"]);
    expect(status.out).to.match(/@clidave\s+active/);
    expect(status.out).to.contain("atServer:");
    const suspended = await cli(["admin", "suspend", "@clidave"]);
    expect(suspended.code, suspended.err).to.equal(0);
    expect(suspended.out).to.match(/@clidave\s+suspend/);
    const resumed = await cli(["admin", "resume", "@clidave"]);
    expect(resumed.code, resumed.err).to.equal(0);
    const unconfirmed = await cli(["admin", "delete", "@clicarol"]);
    expect(unconfirmed.code).to.equal(2);
    expect(unconfirmed.err).to.contain("add --yes to confirm");
    expect((await cli(["admin", "list"])).out).to.match(/@clicarol\s+active/);
  });

  it("C: admin key never on the command line; a cloud registrar by URL + key file; a wrong key is refused", async () => {
    const onArgv = await cli(["admin", "list", "--admin-key", "x".repeat(20)]);
    expect(onArgv.code).to.equal(2);
    expect(onArgv.err).to.match(/^Unknown option '--admin-key'/);
    // As against a cloud registrar: no local platform.json, only the URL and a key file.
    const url = JSON.parse(readFileSync(join(data, "platform.json"), "utf8")).registrarUrl;
    const keyFile = join(tmp, "admin-key-copy");
    writeFileSync(keyFile, readFileSync(join(data, "admin-key")));
    const remote = { ...env, ATPLATFORM_HOME: join(tmp, "nowhere") };
    const r = await cli(["admin", "list", "--registrar", url, "--admin-key-file", keyFile], {
      env: remote,
    });
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain("@clialice");
    const viaEnv = await cli(["admin", "list", "--registrar", url], {
      env: { ...remote, REGISTRAR_ADMIN_KEY: readFileSync(keyFile, "utf8").trim() },
    });
    expect(viaEnv.out).to.contain("@clialice");
    writeFileSync(keyFile, "wrong-admin-key-0123456789\n");
    const wrong = await cli(["admin", "health", "--registrar", url, "--admin-key-file", keyFile], {
      env: remote,
    });
    expect(wrong.code).to.equal(1);
    expect(wrong.err).to.contain("registrar answered 401");
  });
});

describe("atplatform start --demo (a child process, as `npm start -- --demo`)", function () {
  this.timeout(90_000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let child: ReturnType<typeof spawn> | undefined;
  let output = "";

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "atp-demo-"));
    const base = await freePort();
    env = {
      ...process.env,
      HOME: tmp,
      ATPLATFORM_HOME: join(tmp, ".atplatform"),
      ROOT_PORT: String(await freePort()),
      REGISTRAR_PORT: String(await freePort()),
      ATPLATFORM_ATSERVER_PORTS: `${base}-${base + 10}`,
      LOG_LEVEL: "warn",
    };
    delete env.REGISTRAR_API_KEY;
    delete env.REGISTRAR_ADMIN_KEY;
  });
  after(() => {
    if (child?.pid && child.exitCode === null) child.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<Run> {
    const c = spawn(process.execPath, [CLI, ...args], { env, cwd: tmp });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => c.once("close", (x) => r(x)));
    return { code, out, err };
  }

  it("C: creates ready demo atSigns with keys files; they share data at once; Ctrl-C stops cleanly", async () => {
    child = spawn(process.execPath, [CLI, "start", "--demo"], { env, cwd: tmp });
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const deadline = Date.now() + 60_000;
    while (!output.includes("Demo atSigns ready:")) {
      if (child.exitCode !== null) throw new Error(`start --demo exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`no demo atSigns:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).not.to.contain("not ready");
    const keys = join(tmp, ".atplatform", "keys");
    for (const a of ["@alice🛠", "@bob🛠", "@colin🛠"])
      expect(existsSync(join(keys, `${a}_key.atKeys`)), a).to.equal(true);
    expect(existsSync(join(tmp, ".atsign"))).to.equal(false);
    const put = await run(["put", "@alice🛠", "dinner", "Friday", "--shared-with", "@bob🛠"]);
    expect(put.code, put.err).to.equal(0);
    const got = await run(["get", "@bob🛠", "dinner", "--from", "@alice🛠"]);
    expect(got.out, got.err).to.equal("Friday\n");
    const exited = new Promise<void>((r) => child!.once("close", () => r()));
    child.kill("SIGINT");
    await exited;
    expect(output).to.contain("stopped.");
  });
});
