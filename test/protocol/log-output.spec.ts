// Logs people can read: pretty lines on a terminal (a real pseudo-terminal via script(1)),
// JSON lines otherwise (pipes: what containers give), LOG_FORMAT overriding the check.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "chai";
import { prettyLine, prettyStreamFor } from "../../services/protocol/src/log-output";

const ROOT = join(__dirname, "..", "..");
// The directory's logger writing one record, as its process would.
const SNIPPET = `const { createLogger } = require("./services/directory/src/logger");
createLogger("info").child({ subsystem: "session" }).info({ conn: "1a", ip: "10.0.0.1" }, "hello there");`;

function run(env: NodeJS.ProcessEnv, tty: boolean): string {
  const node = `${process.execPath} --import tsx -e '${SNIPPET.replace(/'/g, "'\\''")}'`;
  const r = tty
    ? spawnSync("script", ["-qec", node, "/dev/null"], { cwd: ROOT, env, encoding: "utf8" })
    : spawnSync("sh", ["-c", node], { cwd: ROOT, env, encoding: "utf8" });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
}

describe("log output", function () {
  this.timeout(60_000);
  const env = { ...process.env, LOG_FORMAT: undefined, NO_COLOR: "1" };

  it("a pino JSON line becomes time, level, source, message and key=value fields", () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 1, 12, 0, 1, 234),
        name: "atdirectory",
        subsystem: "store",
        msg: "redis node unfit",
        reason: "sentinel key missing",
        conn: "1a",
        pid: 1,
        hostname: "h",
      }),
      false,
    );
    expect(line).to.equal(
      '12:00:01.234 WARN  atdirectory/store: redis node unfit reason="sentinel key missing" conn=1a\n',
    );
    // An error's stack is shown below the line; a non-JSON line passes through.
    const err = prettyLine(
      JSON.stringify({ level: 50, msg: "x", err: { stack: "E\n at f" } }),
      false,
    );
    expect(err).to.match(/ERROR x\n {4}E\n {5}at f\n$/);
    expect(prettyLine("not json", false)).to.equal("not json\n");
  });

  it("JSON when stdout is not a terminal (a container's pipe), pretty with LOG_FORMAT=pretty", () => {
    expect(prettyStreamFor(1, { LOG_FORMAT: "json" })).to.equal(undefined);
    expect(prettyStreamFor(1, { LOG_FORMAT: "pretty" })).not.to.equal(undefined);
    const piped = run(env, false).trim();
    expect(JSON.parse(piped)).to.include({ msg: "hello there", conn: "1a", level: 30 });
    const forced = run({ ...env, LOG_FORMAT: "pretty" }, false);
    expect(forced).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}atdirectory\/session: hello there conn=1a/,
    );
  });

  it("pretty on a real terminal, JSON there with LOG_FORMAT=json", () => {
    const tty = run(env, true);
    expect(tty).to.match(
      /\d\d:\d\d:\d\d\.\d{3} INFO {2}atdirectory\/session: hello there conn=1a ip=10\.0\.0\.1/,
    );
    expect(tty).not.to.include('"msg"');
    const json = run({ ...env, LOG_FORMAT: "json" }, true);
    expect(json).to.include('"msg":"hello there"');
  });
});
