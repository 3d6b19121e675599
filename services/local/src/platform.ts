// `npm start`: the atDirectory, the registrar and every atServer it provisions, on one
// machine, with nothing else installed.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectoryServer, FileRecordWriter } from "@atplatform/directory";
import {
  infoBriefProbe,
  LocalOrchestrator,
  LogMailer,
  Registrar,
  rootResolver,
  SmtpMailer,
} from "@atplatform/registrar";
import type { LocalConfig, PlatformInfo } from "./config";
import { ensureLocalTls, type LocalTls } from "./tls-setup";

export interface PlatformOptions {
  /** Where human-readable lines go (banner, one-time codes). Default stdout. */
  print?: (line: string) => void;
  /** Override the atServer entry point (tests). */
  atserverBin?: string;
}

export class PortInUseError extends Error {
  override name = "PortInUseError";
}

export class LocalPlatform {
  /** Data directories locked by platforms in this process (the pid file covers others). */
  private static readonly homesInUse = new Set<string>();
  private locked = false;
  private directory?: DirectoryServer;
  private registrar?: Registrar;
  private readonly print: (line: string) => void;
  info?: PlatformInfo;
  apiKey = "";
  apiKeyGenerated = false;
  adminKey = "";
  tls?: LocalTls;

  constructor(
    readonly config: LocalConfig,
    private readonly opts: PlatformOptions = {},
  ) {
    this.print = opts.print ?? ((l) => process.stdout.write(`${l}\n`));
  }

  private get pidFile(): string {
    return join(this.config.home, "platform.pid");
  }

  async start(): Promise<void> {
    const { home, host } = this.config;
    const fresh = !existsSync(home);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    this.takeLock();
    try {
      await this.startServices(home, host);
    } catch (err) {
      await this.stop();
      // A first run that failed leaves nothing behind: the next one starts clean.
      if (fresh) rmSync(home, { recursive: true, force: true });
      throw this.explain(err);
    }
  }

  /** A port clash names the setting that moves it. */
  private explain(err: unknown): unknown {
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e?.code !== "EADDRINUSE") return err;
    const c = this.config;
    const setting =
      e.port === c.rootPort
        ? "ROOT_PORT"
        : e.port === c.registrarPort
          ? "REGISTRAR_PORT"
          : undefined;
    if (!setting) return err;
    return new PortInUseError(
      `port ${e.port} is already in use (another atPlatform, or another program): ` +
        `set ${setting} to a free port, e.g. ${setting}=${e.port! + 1} npm start`,
    );
  }

  private async startServices(home: string, host: string): Promise<void> {
    const tls = await ensureLocalTls(home, host);
    this.tls = tls;
    this.resolveApiKey();

    const records = join(home, "directory", "records.txt");
    mkdirSync(join(home, "directory"), { recursive: true });
    if (!existsSync(records)) writeFileSync(records, "");
    this.directory = await DirectoryServer.create({
      host: this.config.bindHost,
      port: this.config.rootPort,
      // The ops port (/healthz, /readyz, /metrics) on loopback when metrics are on.
      httpPort: this.config.metrics ? 0 : -1,
      httpHost: "127.0.0.1",
      cert: tls.certFile,
      key: tls.keyFile,
      records,
      watchIntervalMs: 250,
      // One machine, one client address: the per-IP anti-enumeration budget would only
      // get in the way of the CLI and the registrar's own checks.
      ipMissBudget: 0,
      throttleDelayMs: 0,
      logLevel: (process.env.LOG_LEVEL as "info") ?? "warn",
    });
    const dirAddr = await this.directory.start();
    const root = `${host}:${dirAddr.port}`;

    const lookup = rootResolver({ host: "127.0.0.1", port: dirAddr.port, ca: tls.ca });
    const orchestrator = new LocalOrchestrator({
      home,
      certFile: tls.certFile,
      keyFile: tls.keyFile,
      caFile: tls.caFile,
      rootAddress: root,
      bindHost: this.config.bindHost,
      atserverBin: this.opts.atserverBin,
      metrics: this.config.metrics,
    });
    const c = this.config;
    this.registrar = await Registrar.create(
      {
        dataDir: join(home, "registrar"),
        apiKey: this.apiKey,
        adminKey: this.adminKey,
        bindHost: c.bindHost,
        port: c.registrarPort,
        ...(c.metrics ? { metricsPort: 0, metricsHost: "127.0.0.1" } : {}),
        swarms: [
          { name: "local", host, minPort: c.atserverPorts.min, maxPort: c.atserverPorts.max },
        ],
      },
      {
        orchestrator,
        records: new FileRecordWriter(records),
        healthProbe: infoBriefProbe({ ca: tls.ca }),
        rootResolver: lookup,
        mailer: c.smtp
          ? new SmtpMailer(c.smtp)
          : new LogMailer((line) => this.print(`[registrar] ${line}`), true),
      },
    );
    await this.registrar.start();

    const apiKeyFile = join(home, "api-key");
    const adminKeyFile = join(home, "admin-key");
    this.info = {
      root,
      registrarUrl: this.registrar.url,
      caFile: tls.caFile,
      home,
      apiKeyFile,
      adminKeyFile,
      ...(c.metrics
        ? {
            metrics: {
              directory: `http://127.0.0.1:${dirAddr.httpPort}/metrics`,
              registrar: `http://127.0.0.1:${this.registrar.metricsPort}/metrics`,
            },
          }
        : {}),
    };
    writeFileSync(join(home, "platform.json"), JSON.stringify(this.info, null, 2) + "\n");
    this.banner();
  }

  private resolveApiKey(): void {
    const file = join(this.config.home, "api-key");
    if (this.config.apiKey) {
      this.apiKey = this.config.apiKey;
    } else if (existsSync(file)) {
      this.apiKey = readFileSync(file, "utf8").trim();
    } else {
      this.apiKey = randomBytes(24).toString("base64url");
      this.apiKeyGenerated = true;
    }
    writeFileSync(file, `${this.apiKey}\n`, { mode: 0o600 });
    // The admin key is never the API key (every onboarding app holds that one).
    const adminFile = join(this.config.home, "admin-key");
    const kept = existsSync(adminFile) ? readFileSync(adminFile, "utf8").trim() : "";
    this.adminKey =
      this.config.adminKey ??
      (kept && kept !== this.apiKey ? kept : randomBytes(24).toString("base64url"));
    writeFileSync(adminFile, `${this.adminKey}\n`, { mode: 0o600 });
  }

  private banner(): void {
    const i = this.info!;
    const active = this.registrar!.store.list({ states: ["active"] }).length;
    this.print("");
    this.print("atPlatform is running.");
    this.print(`  Root (atDirectory):  ${i.root}`);
    this.print(`  Registrar:           ${i.registrarUrl}`);
    this.print(`  CA file to trust:    ${i.caFile}`);
    this.print(`  Data directory:      ${i.home}`);
    this.print(
      `  Registrar API key:   ${this.apiKey}` +
        (this.config.apiKey
          ? " (from REGISTRAR_API_KEY)"
          : this.apiKeyGenerated
            ? " (generated; set REGISTRAR_API_KEY to choose one)"
            : ` (kept in ${i.apiKeyFile})`),
    );
    this.print(
      `  Admin pages:         ${i.registrarUrl}/admin (any user name; password: the admin key in ${i.adminKeyFile})`,
    );
    this.print(`  atSigns active:      ${active}`);
    this.print("Press Ctrl-C to stop.");
    this.print("");
  }

  /** Stops the registrar (and with it every atServer), then the directory. */
  async stop(): Promise<void> {
    const registrar = this.registrar;
    const directory = this.directory;
    this.registrar = undefined;
    this.directory = undefined;
    if (registrar) await registrar.stop();
    if (directory) await directory.stop();
    this.releaseLock();
  }

  private takeLock(): void {
    if (LocalPlatform.homesInUse.has(this.config.home))
      throw new Error(`another atPlatform (pid ${process.pid}) is using ${this.config.home}`);
    if (existsSync(this.pidFile)) {
      const [pidText, started] = readFileSync(this.pidFile, "utf8").trim().split(/\s+/);
      const pid = Number(pidText);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && holdsLock(pid, started))
        throw new Error(`another atPlatform (pid ${pid}) is using ${this.config.home}`);
    }
    writeFileSync(this.pidFile, `${process.pid} ${startTime(process.pid) ?? ""}\n`);
    LocalPlatform.homesInUse.add(this.config.home);
    this.locked = true;
  }

  private releaseLock(): void {
    if (!this.locked) return;
    this.locked = false;
    LocalPlatform.homesInUse.delete(this.config.home);
    try {
      if (readFileSync(this.pidFile, "utf8").split(/\s+/)[0] === String(process.pid))
        rmSync(this.pidFile);
    } catch {
      /* not ours or gone */
    }
  }
}

/**
 * Whether the pid file's process still holds the lock: alive, and (where /proc tells) the very
 * process that wrote the file, not a later one that reused the pid after a kill -9.
 */
function holdsLock(pid: number, started: string | undefined): boolean {
  if (!alive(pid)) return false;
  const now = startTime(pid);
  return now === undefined || started === undefined || started === "" || now === started;
}

/** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after its ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
