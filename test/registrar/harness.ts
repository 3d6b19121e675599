// Boots a real atDirectory (file store) and a registrar with the local orchestrator on
// free ports in a temp directory; atServers run as real child processes.
import "./quiet";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DirectoryServer, FileRecordWriter, RedisRecordWriter } from "@atplatform/directory";
import {
  infoBriefProbe,
  LocalOrchestrator,
  proberDeps,
  Registrar,
  rootResolver,
  type ApiLimits,
  type EngineEndpoint,
  type ProbeSettings,
  type Mail,
  type Mailer,
} from "@atplatform/registrar";
import { freePort } from "../support/ports";
import type { TestRedis } from "../support/redis-server";
import { testTls } from "../support/test-ca";

export const API_KEY = "test-api-key-0123456789abcdef";
export const ADMIN_KEY = "test-admin-key-0123456789abcdef";

/** Captures mail so tests can read one-time codes. */
export class CapturingMailer implements Mailer {
  readonly sent: Mail[] = [];
  async send(mail: Mail): Promise<void> {
    this.sent.push(mail);
  }
  lastCode(to: string): string {
    const mail = [...this.sent].reverse().find((m) => m.to === to);
    const code = mail && /\b(\d{6})\b/.exec(mail.text)?.[1];
    if (!code) throw new Error(`no code mailed to ${to}`);
    return code;
  }
}

export interface Harness {
  home: string;
  registrar: Registrar;
  directory: DirectoryServer;
  orchestrator: LocalOrchestrator;
  mailer: CapturingMailer;
  rootPort: number;
  recordsFile: string;
  url: string;
  ca: string;
  lookup(atsign: string): Promise<string | null>;
  stop(): Promise<void>;
}

export async function startDirectory(recordsFile: string): Promise<DirectoryServer> {
  const tls = await testTls();
  mkdirSync(dirname(recordsFile), { recursive: true });
  if (!existsSync(recordsFile)) writeFileSync(recordsFile, "");
  const directory = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpPort: -1,
    cert: tls.files.cert,
    key: tls.files.key,
    records: recordsFile,
    watchIntervalMs: 100,
    ipMissBudget: 0,
    throttleDelayMs: 0,
    logLevel: "silent",
  });
  await directory.start();
  return directory;
}

export async function startRedisDirectory(redis: TestRedis): Promise<DirectoryServer> {
  const tls = await testTls();
  const directory = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpPort: -1,
    cert: tls.files.cert,
    key: tls.files.key,
    redis: `redis://127.0.0.1:${redis.port}`,
    redisPassword: redis.options.password,
    ipMissBudget: 0,
    throttleDelayMs: 0,
    logLevel: "silent",
  });
  await directory.start();
  return directory;
}

export async function startHarness(
  opts: {
    atserverBin?: string;
    activationWaitMs?: number;
    /** Cloud layout: the registrar writes the primary, the directory reads the replica. */
    redis?: { primary: TestRedis; replica: TestRedis };
    /** Off unless given: most specs send many calls from one address. */
    apiLimits?: ApiLimits;
    /** The metrics listener (off unless given). */
    metricsPort?: number;
    /** The platform prober (with the metrics listener), against this harness's root. */
    probe?: ProbeSettings & { publicUrl?: string; engines?: EngineEndpoint[] };
  } = {},
): Promise<Harness> {
  const tls = await testTls();
  const home = mkdtempSync(join(tmpdir(), "atp-registrar-"));
  const recordsFile = join(home, "directory", "records.txt");
  let directory: DirectoryServer;
  try {
    directory = opts.redis
      ? await startRedisDirectory(opts.redis.replica)
      : await startDirectory(recordsFile);
  } catch (err) {
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  const rootPort = directory.port!;
  const orchestrator = new LocalOrchestrator({
    home,
    certFile: tls.files.cert,
    keyFile: tls.files.key,
    caFile: tls.files.ca,
    rootAddress: `127.0.0.1:${rootPort}`,
    atserverBin: opts.atserverBin,
    env: { LOG_LEVEL: "warn" },
  });
  const mailer = new CapturingMailer();
  const lookup = rootResolver({ host: "127.0.0.1", port: rootPort, ca: tls.ca });
  const base = await freePort();
  const registrar = await Registrar.create(
    {
      dataDir: join(home, "registrar"),
      apiKey: API_KEY,
      adminKey: ADMIN_KEY,
      port: 0,
      swarms: [
        { name: "local", host: "127.0.0.1", minPort: base, maxPort: base + 40 },
        { name: "second", host: "127.0.0.1", minPort: base + 41, maxPort: base + 80 },
      ],
      activationWaitMs: opts.activationWaitMs ?? 20_000,
      metricsPort: opts.metricsPort,
      probe: opts.probe
        ? {
            intervalMs: opts.probe.intervalMs,
            sampleSize: opts.probe.sampleSize,
            timeoutMs: opts.probe.timeoutMs,
          }
        : undefined,
      publicUrl: opts.probe?.publicUrl,
      healthTimeoutMs: 15_000,
      apiLimits: opts.apiLimits ?? {
        perIpPerMinute: 0,
        perKeyPerMinute: 0,
        newPerIpPerHour: 0,
        newPerKeyPerHour: 0,
      },
    },
    {
      orchestrator,
      records: opts.redis
        ? new RedisRecordWriter({
            url: `redis://127.0.0.1:${opts.redis.primary.port}`,
            password: opts.redis.primary.options.password,
          })
        : new FileRecordWriter(recordsFile),
      healthProbe: infoBriefProbe({ ca: tls.ca }),
      rootResolver: lookup,
      mailer,
      prober: opts.probe
        ? proberDeps({
            root: `127.0.0.1:${rootPort}`,
            ca: tls.ca,
            publicUrl: opts.probe.publicUrl,
            engines: opts.probe.engines,
            timeoutMs: opts.probe.timeoutMs,
          })
        : undefined,
    },
  );
  try {
    await registrar.start();
  } catch (err) {
    await registrar.stop().catch(() => undefined);
    await directory.stop();
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  return {
    home,
    registrar,
    directory,
    orchestrator,
    mailer,
    rootPort,
    recordsFile,
    url: registrar.url,
    ca: tls.ca,
    lookup,
    async stop() {
      await registrar.stop();
      await directory.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** PIDs of live processes whose command line contains `needle`. */
export function processesWith(needle: string): number[] {
  const { readdirSync, readFileSync } = require("node:fs") as typeof import("node:fs");
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.split("\0").includes(needle)) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

export async function api(
  url: string,
  path: string,
  init: {
    method?: string;
    body?: unknown;
    key?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; text: string; json: any; headers: Headers }> {
  const headers: Record<string, string> = { "Content-Type": "application/json", ...init.headers };
  if (init.key !== null) headers.Authorization = init.key ?? API_KEY;
  const res = await fetch(url + path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === "string"
          ? init.body
          : JSON.stringify(init.body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}
