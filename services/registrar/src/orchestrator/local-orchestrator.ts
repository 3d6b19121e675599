import { spawn, type ChildProcess } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { shardedPath, withAt } from "../atsign";
import { orchestratorLogger as log } from "../logger";
import type { AtServerStatus, Orchestrator, Placement } from "./orchestrator";

export interface LocalOrchestratorConfig {
  /** Data directory: atServers live under <home>/atservers, archives under <home>/archive. */
  home: string;
  /** TLS certificate chain, key and CA (PEM files) every local atServer uses. */
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** Address the atServers bind (default 127.0.0.1). */
  bindHost?: string;
  /** The atDirectory the atServers use for lookups, `host:port`. */
  rootAddress: string;
  /** The atServer entry point (default: the workspace's services/atserver/bin/atserver.js). */
  atserverBin?: string;
  /** Extra environment for the children (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /** First restart delay after a crash; doubles up to 30 s. Default 500 ms. */
  restartDelayMs?: number;
  /**
   * Each atServer's Prometheus endpoint on a free loopback port, recorded in
   * `<atServerDir>/metrics.json` (`atplatform status` reads it). Default off.
   */
  metrics?: boolean;
}

/** What `<atServerDir>/metrics.json` holds while the atServer runs with metrics on. */
export interface AtServerMetricsFile {
  atSign: string;
  url: string;
}

interface Managed {
  placement: Placement;
  secretFile: string;
  child?: ChildProcess;
  stopping: boolean;
  restarts: number;
  delay: number;
  timer?: NodeJS.Timeout;
  startedAt: number;
  /** The tail of the child's stderr (the atServer prints a refused configuration there). */
  stderrTail?: string;
  /** Set when the atServer refused its configuration: it is not restarted. */
  failed?: string;
  /** Its metrics port (loopback), when metrics are on; picked afresh for every start. */
  metricsPort?: number;
}

const DEFAULT_BIN = resolve(__dirname, "../../../atserver/bin/atserver.js");
const MAX_DELAY_MS = 30_000;

/** Runs each atServer as a child process of this one; restarts crashed ones. */
export class LocalOrchestrator implements Orchestrator {
  readonly name = "local";
  readonly startsWithoutSecret = true;
  private readonly managed = new Map<string, Managed>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private closing = false;

  constructor(private readonly cfg: LocalOrchestratorConfig) {}

  /** The directory holding one atSign's storage, pid file and log. */
  atServerDir(atsign: string): string {
    return join(this.cfg.home, "atservers", shardedPath(atsign));
  }

  storageDir(atsign: string): string {
    return join(this.atServerDir(atsign), "storage");
  }

  ensure(atsign: string, placement: Placement, secretFile: string): Promise<void> {
    return this.locked(atsign, async () => {
      if (this.closing) throw new Error("orchestrator is closing");
      const m = this.managed.get(atsign);
      if (m && !m.stopping && samePlacement(m.placement, placement)) {
        // Child processes have no memory cap to change; keep the record current.
        m.placement = placement;
        m.secretFile = secretFile;
        if (!m.child && !m.timer) {
          m.metricsPort = await this.metricsPort();
          this.spawn(atsign, m);
        }
        return;
      }
      if (m) await this.stopManaged(atsign, m);
      await this.killOrphan(atsign);
      const fresh: Managed = {
        placement,
        secretFile,
        stopping: false,
        restarts: 0,
        delay: this.cfg.restartDelayMs ?? 500,
        startedAt: 0,
      };
      this.managed.set(atsign, fresh);
      fresh.metricsPort = await this.metricsPort();
      this.spawn(atsign, fresh);
    });
  }

  async inspect(atsign: string): Promise<AtServerStatus> {
    const m = this.managed.get(atsign);
    if (m?.child && m.child.exitCode === null && m.child.signalCode === null)
      return { state: "running", placement: m.placement, pid: m.child.pid, restarts: m.restarts };
    if (m?.failed) return { state: "failed", error: m.failed, placement: m.placement };
    if (m) return { state: "stopped", placement: m.placement };
    return existsSync(this.atServerDir(atsign)) ? { state: "stopped" } : { state: "absent" };
  }

  stop(atsign: string): Promise<void> {
    return this.locked(atsign, async () => {
      const m = this.managed.get(atsign);
      if (m) await this.stopManaged(atsign, m);
      this.managed.delete(atsign);
      await this.killOrphan(atsign);
    });
  }

  remove(atsign: string): Promise<{ archivedTo?: string }> {
    return this.locked(atsign, async () => {
      const m = this.managed.get(atsign);
      if (m) await this.stopManaged(atsign, m);
      this.managed.delete(atsign);
      await this.killOrphan(atsign);
      const dir = this.atServerDir(atsign);
      if (!existsSync(dir)) return {};
      const archiveRoot = join(this.cfg.home, "archive");
      mkdirSync(archiveRoot, { recursive: true, mode: 0o700 });
      const archivedTo = join(
        archiveRoot,
        `${shardedPath(atsign).split("/")[1]}-${new Date().toISOString().replace(/[:.]/g, "")}`,
      );
      writeFileSync(join(dir, "atsign.txt"), `${withAt(atsign)}\n`);
      renameSync(dir, archivedTo);
      log.info({ atsign, archivedTo }, "atServer storage archived");
      return { archivedTo };
    });
  }

  async move(atsign: string, _from: Placement, to: Placement, secretFile: string): Promise<void> {
    // Storage is keyed by atSign, not placement, so a move is a restart elsewhere.
    await this.ensure(atsign, to, secretFile);
  }

  portUsable(_swarm: string, port: number): Promise<boolean> {
    return new Promise((resolvePort) => {
      const srv = createServer();
      srv.once("error", () => resolvePort(false));
      srv.listen(port, this.cfg.bindHost ?? "127.0.0.1", () => srv.close(() => resolvePort(true)));
    });
  }

  /** Atsigns with a managed atServer (running or waiting to restart). */
  managedAtSigns(): string[] {
    return [...this.managed.keys()];
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.managed.entries()].map(([atsign, m]) => this.stopManaged(atsign, m)),
    );
    this.managed.clear();
  }

  // ---------------------------------------------------------------------------------

  private locked<T>(atsign: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(atsign) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(atsign, settled);
    void settled.then(() => {
      if (this.locks.get(atsign) === settled) this.locks.delete(atsign);
    });
    return next;
  }

  private spawn(atsign: string, m: Managed): void {
    const dir = this.atServerDir(atsign);
    const storage = join(dir, "storage");
    mkdirSync(storage, { recursive: true, mode: 0o700 });
    const args = [
      this.cfg.atserverBin ?? DEFAULT_BIN,
      "-a",
      withAt(atsign),
      "-p",
      String(m.placement.port),
      "--host",
      this.cfg.bindHost ?? "127.0.0.1",
      "--cert",
      this.cfg.certFile,
      "--key",
      this.cfg.keyFile,
      // The same certificate (it carries clientAuth) identifies the atServer to its peers.
      "--client-cert",
      this.cfg.certFile,
      "--client-key",
      this.cfg.keyFile,
      "--storage",
      storage,
      "--root",
      this.cfg.rootAddress,
    ];
    // Absent once the secret was handed out: the atServer keeps its own copy from then on.
    if (existsSync(m.secretFile)) args.push("--cram-secret-file", m.secretFile);
    if (this.cfg.caFile) args.push("--ca", this.cfg.caFile);
    const metricsFile = join(dir, "metrics.json");
    if (m.metricsPort !== undefined) {
      args.push("--metrics-port", String(m.metricsPort), "--metrics-host", "127.0.0.1");
      const record: AtServerMetricsFile = {
        atSign: withAt(atsign),
        url: `http://127.0.0.1:${m.metricsPort}/metrics`,
      };
      writeFileSync(metricsFile, `${JSON.stringify(record)}\n`);
    } else rmSync(metricsFile, { force: true });
    const logFile = createWriteStream(join(dir, "atserver.log"), { flags: "a" });
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...childEnv(), ...this.cfg.env },
    });
    child.stdout?.pipe(logFile);
    child.stderr?.pipe(logFile);
    m.failed = undefined;
    m.stderrTail = "";
    child.stderr?.on("data", (d: Buffer) => {
      m.stderrTail = `${m.stderrTail ?? ""}${d.toString("utf8")}`.slice(-1000);
    });
    m.child = child;
    m.startedAt = Date.now();
    if (child.pid !== undefined) writeFileSync(join(dir, "atserver.pid"), `${child.pid}\n`);
    log.info({ atsign, pid: child.pid, port: m.placement.port }, "atServer started");
    child.once("error", (err) => log.error({ atsign, err }, "atServer failed to spawn"));
    child.once("exit", (code, signal) => {
      logFile.end();
      if (m.child === child) m.child = undefined;
      if (m.stopping || this.closing) return;
      // bin/atserver.js prints a refused configuration as "atserver: <reason>" and exits 1:
      // restarting would only crash-loop, so report it and stop here.
      const refused = /^atserver: (.+)$/m.exec(m.stderrTail ?? "");
      if (code !== 0 && refused) {
        m.failed = `atServer refused its configuration: ${refused[1]}`;
        log.error({ atsign, code, error: m.failed }, "atServer cannot start; not restarting");
        return;
      }
      if (Date.now() - m.startedAt > 60_000) m.delay = this.cfg.restartDelayMs ?? 500;
      log.warn({ atsign, code, signal, restartInMs: m.delay }, "atServer exited; restarting");
      m.timer = setTimeout(() => {
        const live = () => !m.stopping && !this.closing && this.managed.get(atsign) === m;
        if (!live()) return (m.timer = undefined);
        // The old metrics port may have been taken meanwhile: a fresh one for every start.
        void this.metricsPort().then((port) => {
          m.timer = undefined;
          if (!live()) return;
          m.metricsPort = port;
          m.restarts++;
          this.spawn(atsign, m);
        });
      }, m.delay);
      m.delay = Math.min(m.delay * 2, MAX_DELAY_MS);
    });
  }

  private async stopManaged(atsign: string, m: Managed): Promise<void> {
    m.stopping = true;
    if (m.timer) clearTimeout(m.timer);
    m.timer = undefined;
    const child = m.child;
    if (child) {
      await terminate(child);
      log.info({ atsign, pid: child.pid }, "atServer stopped");
    }
    rmSync(join(this.atServerDir(atsign), "atserver.pid"), { force: true });
    rmSync(join(this.atServerDir(atsign), "metrics.json"), { force: true });
  }

  /** A free loopback port for an atServer's metrics (the system picks it), or none when off. */
  private metricsPort(): Promise<number | undefined> {
    if (!this.cfg.metrics) return Promise.resolve(undefined);
    return new Promise((resolvePort, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolvePort(port));
      });
    });
  }

  /**
   * A registrar that was killed (SIGKILL) leaves its atServers running; before starting
   * one again, stop the leftover recorded in the pid file if it is still that atServer.
   */
  private async killOrphan(atsign: string): Promise<void> {
    const pidFile = join(this.atServerDir(atsign), "atserver.pid");
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    rmSync(pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 1 || !isOurAtServer(pid, this.storageDir(atsign))) return;
    log.warn({ atsign, pid }, "stopping a leftover atServer from an earlier run");
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
    if (alive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 20 && alive(pid); i++) await sleep(50);
    }
  }
}

/** The registrar's environment minus its own secrets (API keys, SMTP password). */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(REGISTRAR_|SMTP_)/.test(k)),
  );
}

function samePlacement(a: Placement, b: Placement): boolean {
  return a.swarm === b.swarm && a.port === b.port && a.host === b.host;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isOurAtServer(pid: number, storage: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.includes(storage);
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
