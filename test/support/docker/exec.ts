// Running the host's tools (ip, nsenter, docker) for the real-engine tests, and the one
// check that names what is missing: a test without its prerequisites fails, never skips.
import { execFile, type ExecFileOptions } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export class MissingPrerequisiteError extends Error {
  override name = "MissingPrerequisiteError";
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    message: string,
    readonly code: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Runs a command; rejects with its stderr when it exits non-zero. */
export function run(
  cmd: string,
  args: string[],
  opts: ExecFileOptions & { input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { maxBuffer: 64 * 1024 * 1024, encoding: "utf8", ...opts },
      (err, stdout, stderr) => {
        const out = String(stdout);
        const errText = String(stderr);
        if (err) {
          const code = (err as { code?: number | string }).code ?? null;
          const shown = [cmd, ...args].join(" ").slice(0, 300);
          reject(
            new CommandError(`${shown}: ${errText.trim() || err.message}`, code, out, errText),
          );
        } else resolve({ stdout: out, stderr: errText });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The absolute path of a command on PATH (plus the sbin directories root's PATH may lack). */
export function which(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin"]);
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * What the real-engine tests need on the machine: root, Debian's docker.io (dockerd, its
 * docker client, containerd, runc) and iproute2/util-linux for network namespaces.
 * Throws naming every missing piece.
 */
export function requireDockerPrerequisites(
  host: { uid?: number; which?: (cmd: string) => string | undefined; docker?: string } = {},
): void {
  const uid = host.uid ?? process.getuid?.();
  const find = host.which ?? which;
  const missing: string[] = [];
  if (uid !== 0) missing.push("root (dockerd and network namespaces need it)");
  for (const [cmd, pkg] of [
    ["dockerd", "docker.io"],
    ["containerd", "containerd (a docker.io dependency)"],
    ["runc", "runc (a docker.io dependency)"],
    ["iptables", "iptables"],
    ["ip", "iproute2"],
    ["nsenter", "util-linux"],
    ["unshare", "util-linux"],
    ["tar", "tar"],
  ] as const)
    if (!find(cmd)) missing.push(`${cmd} (package ${pkg})`);
  if (!("docker" in host ? host.docker : dockerCli())) missing.push("docker (package docker.io)");
  if (!existsSync("/sys/fs/cgroup")) missing.push("/sys/fs/cgroup (cgroups)");
  if (missing.length > 0)
    throw new MissingPrerequisiteError(
      `the real Docker Engine tests need: ${missing.join(", ")}; .ci/run installs docker.io`,
    );
}

/**
 * The docker client to drive our dockerd with: the one docker.io ships (/usr/bin/docker), which
 * builds with the daemon's BuildKit by itself; a newer client elsewhere on PATH may need the
 * buildx plugin for that.
 */
export function dockerCli(): string | undefined {
  if (existsSync("/usr/bin/docker")) return "/usr/bin/docker";
  return which("docker");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
