// The at_python example of docs/local.md, run as written (only the root port differs)
// against `atplatform start --demo`: `npm run test:at-python` with AT_PYTHON_DIR pointing to
// a checkout of github.com/atsign-foundation/at_python (its dependencies importable by
// AT_PYTHON, default python3). The SDK is not part of this repository, so this file is outside
// `npm test`'s glob and CI does not depend on it; without AT_PYTHON_DIR it fails saying so.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { freePort } from "../support/ports";

const REPO = resolve(__dirname, "../..");
const CLI = join(REPO, "services/local/bin/atplatform.js");
const SDK = process.env.AT_PYTHON_DIR;

/** The python heredoc of the "Demo atSigns" section, and the root port it names. */
function documentedExample(): { script: string; port: string } {
  const doc = readFileSync(join(REPO, "docs/local.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Demo atSigns"));
  const m = /python3 - <<'PY'\n([\s\S]*?)\nPY\n/.exec(section);
  if (!m) throw new Error("docs/local.md: no at_python example in the demo section");
  const port = /Address\("127\.0\.0\.1", (\d+)\)/.exec(m[1]!)?.[1];
  if (!port) throw new Error("docs/local.md: the example names no root address");
  return { script: m[1]!, port };
}

function run(
  cmd: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; input?: string },
) {
  return new Promise<{ code: number | null; out: string; err: string }>((done) => {
    const c = spawn(cmd, args, { env: opts.env, cwd: opts.cwd });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    c.once("close", (code) => done({ code, out, err }));
    c.stdin.end(opts.input ?? "");
  });
}

describe("docs/local.md at_python example (AT_PYTHON_DIR)", function () {
  before(() => {
    if (!SDK) throw new Error("set AT_PYTHON_DIR to a checkout of atsign-foundation/at_python");
  });
  this.timeout(120_000);
  let tmp: string;
  let child: ReturnType<typeof spawn> | undefined;

  after(() => {
    if (child?.pid && child.exitCode === null) child.kill("SIGKILL");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("prints the value alice shared with bob", async () => {
    const { script, port } = documentedExample();
    tmp = mkdtempSync(join(tmpdir(), "atp-python-"));
    const home = join(tmp, ".atplatform");
    const rootPort = String(await freePort());
    const base = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: tmp,
      ATPLATFORM_HOME: home,
      ROOT_PORT: rootPort,
      REGISTRAR_PORT: String(await freePort()),
      ATPLATFORM_ATSERVER_PORTS: `${base}-${base + 10}`,
      LOG_LEVEL: "warn",
    };
    delete env.REGISTRAR_API_KEY;
    delete env.REGISTRAR_ADMIN_KEY;
    child = spawn(process.execPath, [CLI, "start", "--demo"], { env, cwd: tmp });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const deadline = Date.now() + 60_000;
    while (!output.includes("Demo atSigns ready:")) {
      if (child.exitCode !== null) throw new Error(`start --demo exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`no demo atSigns:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // As documented: from $ATPLATFORM_HOME, trusting its CA through SSL_CERT_FILE.
    const py = await run(process.env.AT_PYTHON ?? "python3", ["-"], {
      cwd: home,
      env: { ...env, SSL_CERT_FILE: join(home, "ca.pem"), PYTHONPATH: SDK },
      input: script.replace(`"127.0.0.1", ${port}`, `"127.0.0.1", ${rootPort}`),
    });
    expect(py.err, py.err).to.equal("");
    expect(py.out).to.equal("Friday 7pm\n");
    const exited = new Promise<void>((r) => child!.once("close", () => r()));
    child.kill("SIGINT");
    await exited;
  });
});
