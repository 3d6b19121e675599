// Our own Docker Engines for tests: each dockerd runs in its own network namespace (see
// netns.ts) and UTS namespace (its own hostname), with its own data-root, exec-root, socket
// and pidfile under a temp dir, and its Engine API on TCP with mutual TLS (the test CA), as
// the registrar reaches swarm managers. Never touches the machine's own Docker daemon.
import { spawn, type ChildProcess } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueServerCertificate } from "@atplatform/protocol";
import { testCa } from "../test-ca";
import { dockerCli, requireDockerPrerequisites, run, sleep, which, type RunResult } from "./exec";
import type { NetnsNode } from "./netns";

export const ENGINE_PORT = 2376;

export interface EngineClientTls {
  ca: string;
  cert: string;
  key: string;
}

export class TestDockerd {
  private constructor(
    readonly node: NetnsNode,
    readonly hostname: string,
    readonly dir: string,
    readonly clientTls: EngineClientTls,
    private proc: ChildProcess,
  ) {}

  get socket(): string {
    return join(this.dir, "docker.sock");
  }

  /** The node's address (where its Engine API, swarm ports and published ports are). */
  get address(): string {
    return this.node.address;
  }

  /**
   * `engineTls: false` leaves the Engine API on the unix socket only (a node formed by
   * swarm-node.sh, whose managers serve it through their own TLS endpoint).
   */
  static async start(
    node: NetnsNode,
    hostname: string,
    opts: { engineTls?: boolean } = {},
  ): Promise<TestDockerd> {
    requireDockerPrerequisites();
    await removeOrphanDirs();
    // The pid in the name lets a later run clean up after a test process that was killed.
    const dir = mkdtempSync(join(tmpdir(), `atp-dockerd-${process.pid}-`));
    const tlsDir = join(dir, "tls");
    mkdirSync(tlsDir);
    const ca = await testCa();
    const server = await issueServerCertificate(ca, { names: [node.address] });
    const client = await issueServerCertificate(ca, { names: ["registrar.test"] });
    writeFileSync(join(tlsDir, "ca.pem"), ca.cert);
    writeFileSync(join(tlsDir, "cert.pem"), server.cert);
    writeFileSync(join(tlsDir, "key.pem"), server.key, { mode: 0o600 });
    const args = [
      `--net=/var/run/netns/${node.name}`,
      "unshare",
      "--uts",
      "--",
      "/bin/sh",
      "-c",
      'hostname "$0" && exec "$@"',
      hostname,
      which("dockerd")!,
      `--storage-driver=${await storageDriver(dir)}`,
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      `-H=unix://${join(dir, "docker.sock")}`,
      ...(opts.engineTls === false
        ? []
        : [
            `-H=tcp://${node.address}:${ENGINE_PORT}`,
            "--tlsverify",
            `--tlscacert=${join(tlsDir, "ca.pem")}`,
            `--tlscert=${join(tlsDir, "cert.pem")}`,
            `--tlskey=${join(tlsDir, "key.pem")}`,
          ]),
      "--log-level=warn",
    ];
    const log = openSync(join(dir, "dockerd.log"), "a");
    const proc = spawn("nsenter", args, {
      stdio: ["ignore", log, log],
      // A swarm task otherwise tries to pull its image first, even when the node has it: with
      // no registry reachable that waits ~20 s for DNS on every task start (and sends traffic
      // off the test network). The images are loaded on every node.
      env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: "1" },
    });
    closeSync(log);
    const d = new TestDockerd(
      node,
      hostname,
      dir,
      { ca: ca.cert, cert: client.cert, key: client.key },
      proc,
    );
    try {
      await d.waitUntilReady();
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  /** dockerd's pid (nsenter execs through to it): its namespaces are the node's. */
  get pid(): number {
    return this.proc.pid!;
  }

  /** Runs a command on this node: its network and UTS (hostname) namespaces. */
  inNode(
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    return run(
      "nsenter",
      [`--net=/var/run/netns/${this.node.name}`, `--uts=/proc/${this.pid}/ns/uts`, cmd, ...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000 },
    );
  }

  /** Runs the docker client against this daemon. */
  docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(dockerCli()!, ["-H", `unix://${this.socket}`, ...args], {
      env: { ...process.env, DOCKER_BUILDKIT: "1", DOCKER_CLI_HINTS: "false" },
      timeout: opts.timeoutMs ?? 120_000,
      input: opts.input,
    });
  }

  /** `docker <args>` parsed as JSON (for inspect and `--format '{{json .}}'`). */
  async json<T>(args: string[]): Promise<T> {
    return JSON.parse((await this.docker(args)).stdout) as T;
  }

  async swarmInit(): Promise<void> {
    await this.docker([
      "swarm",
      "init",
      `--advertise-addr=${this.address}`,
      `--listen-addr=${this.address}:2377`,
    ]);
  }

  async swarmJoin(manager: TestDockerd, role: "manager" | "worker"): Promise<void> {
    const token = (await manager.docker(["swarm", "join-token", "-q", role])).stdout.trim();
    await this.docker([
      "swarm",
      "join",
      `--token=${token}`,
      `--advertise-addr=${this.address}`,
      `--listen-addr=${this.address}:2377`,
      `${manager.address}:2377`,
    ]);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(join(this.dir, "dockerd.log"), "utf8")
        .trim()
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "";
    }
  }

  private exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  private async waitUntilReady(): Promise<void> {
    // Generous: on a loaded machine dockerd and its containerd take a while to come up.
    const deadline = Date.now() + 90_000;
    let last = "";
    while (Date.now() < deadline) {
      if (this.exited())
        throw new Error(`dockerd exited (${this.proc.exitCode}):\n${this.logTail()}`);
      try {
        await this.docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 });
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`dockerd not ready after 90 s: ${last}\n${this.logTail()}`);
  }

  /** SIGKILL, as a crashed node: no swarm leave, its containerd left to the namespace's end. */
  async kill(): Promise<void> {
    if (this.exited()) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.signal("SIGKILL");
    await exited;
  }

  /**
   * Removes every container, stops dockerd (SIGKILL after 60 s), unmounts what it left
   * under its directory and removes the directory. The namespace is the network's to remove.
   */
  async stop(): Promise<void> {
    if (!this.exited()) {
      await this.docker(["swarm", "leave", "--force"], { timeoutMs: 60_000 }).catch(
        () => undefined,
      );
      const ids = await this.docker(["ps", "-aq"]).catch(() => ({ stdout: "" }));
      const list = ids.stdout.split(/\s+/).filter(Boolean);
      if (list.length > 0)
        await this.docker(["rm", "-f", "-v", ...list], { timeoutMs: 120_000 }).catch(
          () => undefined,
        );
      const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
      this.signal("SIGTERM");
      const timer = setTimeout(() => this.signal("SIGKILL"), 60_000);
      await exited;
      clearTimeout(timer);
    }
    await unmountBelow(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private signal(sig: NodeJS.Signals): void {
    // nsenter execs unshare execs sh execs dockerd: one process, the child we spawned.
    try {
      this.proc.kill(sig);
    } catch {
      // gone
    }
  }
}

/**
 * overlay2 where the temp dir's filesystem can back it (ext4, xfs: no copying, a container
 * starts in a fraction of vfs's time), vfs elsewhere (overlayfs itself, as inside a CI
 * container); ATP_DOCKER_STORAGE_DRIVER overrides.
 */
export async function storageDriver(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const forced = env.ATP_DOCKER_STORAGE_DRIVER;
  if (forced) {
    if (!/^(overlay2|vfs)$/.test(forced))
      throw new Error(`ATP_DOCKER_STORAGE_DRIVER must be overlay2 or vfs, got ${forced}`);
    return forced;
  }
  const fs = (await run("stat", ["-f", "-c", "%T", dir])).stdout.trim();
  return /^(ext2\/ext3|xfs)$/.test(fs) ? "overlay2" : "vfs";
}

/**
 * Directories of dockerds whose test process died: their dockerd went with its namespace
 * (netns.ts kills what runs there), so unmount what is left and remove them.
 */
async function removeOrphanDirs(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    const m = /^atp-dockerd-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const dir = join(tmpdir(), name);
    if (pidAlive(readPid(join(dir, "docker.pid")))) continue;
    // Containers with a network namespace of their own outlive their dockerd's namespace.
    for (const id of readdirOr(join(dir, "data", "containers")))
      for (const pid of readdirOr(`/sys/fs/cgroup/pids/docker/${id}`).length > 0
        ? readFileSync(`/sys/fs/cgroup/pids/docker/${id}/cgroup.procs`, "utf8").split("\n")
        : [])
        if (pid) pidAliveKill(Number(pid));
    await unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPid(file: string): number {
  try {
    return Number(readFileSync(file, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function pidAliveKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}

function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Unmounts (lazily, deepest first) every mount point below `dir`. */
export async function unmountBelow(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run("umount", ["-l", m]).catch(() => undefined);
}
