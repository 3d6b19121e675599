// A user's temp HOME for CLI tests: the environment the CLI runs with (no registrar keys
// inherited from the caller), the local platform's settings on free ports, and the CLI run as
// a child process, as a user runs it.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../support/ports";

export const CLI = join(resolve(__dirname, "../.."), "services/local/bin/atplatform.js");

export interface UserHome {
  tmp: string;
  /** $ATPLATFORM_HOME */
  data: string;
  env: NodeJS.ProcessEnv;
  /** What `localConfigFromEnv` takes to start this home's platform. */
  platformEnv: Record<string, string>;
}

export async function userHome(prefix: string, atServerPorts: number): Promise<UserHome> {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const data = join(tmp, ".atplatform");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: tmp,
    ATPLATFORM_HOME: data,
    LOG_LEVEL: "warn",
  };
  delete env.REGISTRAR_API_KEY;
  delete env.REGISTRAR_ADMIN_KEY;
  delete env.ATPLATFORM_REGISTRAR;
  const base = await freePort();
  const platformEnv = {
    ATPLATFORM_HOME: data,
    ROOT_PORT: String(await freePort()),
    REGISTRAR_PORT: String(await freePort()),
    ATPLATFORM_ATSERVER_PORTS: `${base}-${base + atServerPorts}`,
  };
  return { tmp, data, env, platformEnv };
}

export async function runCli(
  home: UserHome,
  args: string[],
  env: NodeJS.ProcessEnv = home.env,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd: home.tmp });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
  return { code, out, err };
}
