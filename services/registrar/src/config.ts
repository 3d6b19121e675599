// The registrar's typed configuration, read from the environment and validated here only.
import { join } from "node:path";
import type { SwarmPorts } from "./store/registrar-store";
import type { AtSignState } from "./store/types";
import type { SmtpConfig } from "./mail/mailer";
import { DEFAULT_API_LIMITS, type ApiLimits } from "./http/rate-limit";
import type { ProbeSettings } from "./probe/platform-prober";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface RegistrarConfig {
  /** Holds registrar.sqlite and the CRAM secret files. */
  dataDir: string;
  /** HTTP bind address and port (0 = any free port). */
  bindHost: string;
  port: number;
  /** Key the onboarding tools send as `Authorization`. */
  apiKey: string;
  /** Key for the admin pages and API; required, and different from `apiKey`. */
  adminKey: string;
  /** Where atServers can be placed; the first is the default. */
  swarms: SwarmPorts[];
  /** Set when served over https (cookies get `Secure`). */
  secureCookies: boolean;
  bodyLimit: number;
  activationWaitMs: number;
  healthTimeoutMs: number;
  rootTimeoutMs: number;
  maxAtSignsPerEmail: number;
  /** How long an unactivated reservation (email or API key) holds its name. */
  reservationTtlMs: number;
  /** Failed attempts of a provisioning step before the atSign is marked `failed`. */
  provisionMaxAttempts: number;
  /** Per-IP and per-API-key budgets of the onboarding APIs (0 = off). */
  apiLimits: ApiLimits;
  /** Prometheus /metrics on its own listener; absent = off. */
  metricsPort?: number;
  /** Address of the metrics listener (default loopback; unauthenticated: keep it private). */
  metricsHost: string;
  /**
   * The platform prober (directory lookups of active atSigns, certificate expiry); it runs
   * only with the metrics listener. `intervalMs` 0 = off.
   */
  probe: ProbeSettings;
  /** The registrar's public https URL (its certificate's expiry is probed); optional. */
  publicUrl?: string;
  /** Fault injection for tests: stop provisioning after this state. */
  haltAfterState?: AtSignState;
  /** Image roll-outs of running atServers (orchestrators that run images). */
  rollout: RolloutConfig;
  /** How long replaced onboarding/admin keys stay valid by default after a rotation. */
  keyOverlapMs: number;
}

export interface RolloutConfig {
  /** On start-up, roll atServers whose image differs from their swarm's configured one. */
  auto: boolean;
  /** atServers updated at once (one batch); the next batch starts once all are healthy. */
  batchSize: number;
  /** Pause between batches. */
  batchPauseMs: number;
  /** Failed atServers tolerated; one more stops the roll-out (the rest keep their image). */
  maxFailures: number;
  /** How long an updated atServer may take to answer `info:brief` before it counts as failed. */
  healthTimeoutMs: number;
}

export const DEFAULTS = {
  bindHost: "127.0.0.1",
  port: 8080,
  bodyLimit: 16 * 1024,
  activationWaitMs: 30_000,
  healthTimeoutMs: 30_000,
  rootTimeoutMs: 15_000,
  maxAtSignsPerEmail: 10,
  reservationTtlMs: 3600_000,
  provisionMaxAttempts: 20,
  apiLimits: DEFAULT_API_LIMITS,
  metricsHost: "127.0.0.1",
  probe: { intervalMs: 60_000, sampleSize: 20, timeoutMs: 5000 } as ProbeSettings,
  rollout: {
    auto: true,
    batchSize: 5,
    batchPauseMs: 30_000,
    maxFailures: 0,
    healthTimeoutMs: 60_000,
  } satisfies RolloutConfig as RolloutConfig,
  keyOverlapMs: 24 * 3600_000,
};

/** The prober's bounds: a round must stay cheap for the root and for the registrar. */
const PROBE_LIMITS = {
  intervalMs: [1000, 86_400_000],
  sampleSize: [1, 500],
  timeoutMs: [100, 60_000],
} as const;

const STATES: AtSignState[] = [
  "requested",
  "allocated",
  "atserver_started",
  "healthy",
  "directory_written",
  "active",
];

export function resolveConfig(
  input: Partial<RegistrarConfig> & { dataDir: string; apiKey: string; adminKey: string },
): RegistrarConfig {
  const cfg: RegistrarConfig = {
    ...DEFAULTS,
    swarms: [{ name: "local", host: "127.0.0.1", minPort: 25000, maxPort: 25999 }],
    secureCookies: false,
    ...stripUndefined(input),
    dataDir: input.dataDir,
    apiKey: input.apiKey,
    adminKey: input.adminKey,
  };
  if (cfg.apiKey.length < 16) throw new ConfigError("the API key must be at least 16 characters");
  if (cfg.adminKey.length < 16)
    throw new ConfigError("the admin key must be at least 16 characters");
  // Every onboarding app holds the API key; it must never open the admin API.
  if (cfg.adminKey === cfg.apiKey)
    throw new ConfigError("the admin key must differ from the API key");
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535)
    throw new ConfigError(`invalid port ${cfg.port}`);
  if (
    cfg.metricsPort !== undefined &&
    (!Number.isInteger(cfg.metricsPort) || cfg.metricsPort < 0 || cfg.metricsPort > 65535)
  )
    throw new ConfigError(`invalid metrics port ${cfg.metricsPort}`);
  if (cfg.swarms.length === 0) throw new ConfigError("at least one swarm is needed");
  const names = new Set<string>();
  for (const s of cfg.swarms) {
    if (names.has(s.name)) throw new ConfigError(`swarm ${s.name} listed twice`);
    names.add(s.name);
    if (!(s.minPort >= 1 && s.minPort <= s.maxPort && s.maxPort <= 65535))
      throw new ConfigError(`swarm ${s.name}: bad port range ${s.minPort}-${s.maxPort}`);
    if (!/^[A-Za-z0-9.-]+$/.test(s.host))
      throw new ConfigError(`swarm ${s.name}: bad host ${s.host}`);
  }
  for (const [k, v] of Object.entries(cfg.apiLimits))
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`${k} must be a whole number >= 0`);
  if (!Number.isInteger(cfg.provisionMaxAttempts) || cfg.provisionMaxAttempts < 1)
    throw new ConfigError("the provisioning attempts must be a whole number >= 1");
  if (!Number.isInteger(cfg.reservationTtlMs) || cfg.reservationTtlMs < 1000)
    throw new ConfigError("the reservation lifetime must be at least 1000 ms");
  validateProbe(cfg.probe);
  if (cfg.publicUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(cfg.publicUrl);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== "https:")
      throw new ConfigError(`the public URL must be an https URL, got "${cfg.publicUrl}"`);
  }
  const r = cfg.rollout;
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1 || r.batchSize > 100)
    throw new ConfigError("the roll-out batch size must be a whole number from 1 to 100");
  if (!Number.isInteger(r.batchPauseMs) || r.batchPauseMs < 0)
    throw new ConfigError("the roll-out batch pause must be a whole number of ms >= 0");
  if (!Number.isInteger(r.maxFailures) || r.maxFailures < 0)
    throw new ConfigError("the roll-out failure threshold must be a whole number >= 0");
  if (!Number.isInteger(r.healthTimeoutMs) || r.healthTimeoutMs < 1000)
    throw new ConfigError("the roll-out health timeout must be at least 1000 ms");
  if (!Number.isInteger(cfg.keyOverlapMs) || cfg.keyOverlapMs < 0)
    throw new ConfigError("the key overlap must be a whole number of ms >= 0");
  if (cfg.haltAfterState && !STATES.includes(cfg.haltAfterState))
    throw new ConfigError(`unknown state ${cfg.haltAfterState}`);
  return cfg;
}

function validateProbe(probe: ProbeSettings): void {
  for (const key of ["intervalMs", "sampleSize", "timeoutMs"] as const) {
    const v = probe[key];
    const [min, max] = PROBE_LIMITS[key];
    const off = key === "intervalMs" && v === 0;
    if (!Number.isInteger(v) || (!off && (v < min || v > max)))
      throw new ConfigError(
        `probe ${key} must be a whole number from ${min} to ${max}` +
          (key === "intervalMs" ? " (or 0 = off)" : ""),
      );
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `name=host:min-max,name2=host:min-max`. */
export function parseSwarms(text: string): SwarmPorts[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^([A-Za-z0-9_-]+)=([^:]+):(\d+)-(\d+)$/.exec(s);
      if (!m) throw new ConfigError(`bad swarm "${s}" (expected name=host:min-max)`);
      return { name: m[1]!, host: m[2]!, minPort: Number(m[3]), maxPort: Number(m[4]) };
    });
}

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new ConfigError(`${name} must be a whole number`);
  return Number(v);
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (v !== "true" && v !== "false") throw new ConfigError(`${name} must be true or false`);
  return v === "true";
}

export interface RegistrarEnvConfig {
  registrar: RegistrarConfig;
  /** host:port of the atDirectory (atServers' --root, and delete/write confirmation). */
  root: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  directoryFile?: string;
  directoryRedis?: { url: string; password?: string; channel?: string };
  smtp?: SmtpConfig;
  /** Without SMTP: write whole messages, one-time codes included, to the log (development). */
  mailToLog: boolean;
  atserversHome: string;
  atserverBin?: string;
  /** Which Orchestrator runs atServers: "local" (child processes) or "swarm" (Docker Swarm). */
  orchestrator: "local" | "swarm";
}

/** Reads REGISTRAR_* and SMTP_* variables (see docs/registrar.md). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RegistrarEnvConfig {
  const dataDir = env.REGISTRAR_DATA_DIR ?? join(process.cwd(), "registrar-data");
  const apiKey = env.REGISTRAR_API_KEY;
  if (!apiKey) throw new ConfigError("REGISTRAR_API_KEY is required");
  const adminKey = env.REGISTRAR_ADMIN_KEY;
  if (!adminKey)
    throw new ConfigError("REGISTRAR_ADMIN_KEY is required (and must differ from the API key)");
  const root = env.REGISTRAR_ROOT;
  if (!root || !/^[^:\s]+:\d+$/.test(root))
    throw new ConfigError("REGISTRAR_ROOT=host:port is required");
  const registrar = resolveConfig({
    dataDir,
    apiKey,
    adminKey,
    bindHost: env.REGISTRAR_BIND || undefined,
    port: int(env, "REGISTRAR_PORT"),
    metricsPort: int(env, "REGISTRAR_METRICS_PORT"),
    metricsHost: env.REGISTRAR_METRICS_HOST || undefined,
    swarms: env.REGISTRAR_SWARMS ? parseSwarms(env.REGISTRAR_SWARMS) : undefined,
    secureCookies: env.REGISTRAR_SECURE_COOKIES === "true" || undefined,
    activationWaitMs: int(env, "REGISTRAR_ACTIVATION_WAIT_MS"),
    healthTimeoutMs: int(env, "REGISTRAR_HEALTH_TIMEOUT_MS"),
    haltAfterState: (env.REGISTRAR_FAULT_HALT_AFTER as AtSignState) || undefined,
    reservationTtlMs: int(env, "REGISTRAR_RESERVATION_TTL_MS"),
    keyOverlapMs: int(env, "REGISTRAR_KEY_OVERLAP_MS"),
    rollout: {
      auto: bool(env, "REGISTRAR_ROLLOUT_AUTO") ?? DEFAULTS.rollout.auto,
      batchSize: int(env, "REGISTRAR_ROLLOUT_BATCH_SIZE") ?? DEFAULTS.rollout.batchSize,
      batchPauseMs: int(env, "REGISTRAR_ROLLOUT_BATCH_PAUSE_MS") ?? DEFAULTS.rollout.batchPauseMs,
      maxFailures: int(env, "REGISTRAR_ROLLOUT_MAX_FAILURES") ?? DEFAULTS.rollout.maxFailures,
      healthTimeoutMs:
        int(env, "REGISTRAR_ROLLOUT_HEALTH_TIMEOUT_MS") ?? DEFAULTS.rollout.healthTimeoutMs,
    },
    provisionMaxAttempts: int(env, "REGISTRAR_PROVISION_MAX_ATTEMPTS"),
    probe: {
      intervalMs: int(env, "REGISTRAR_PROBE_INTERVAL_MS") ?? DEFAULTS.probe.intervalMs,
      sampleSize: int(env, "REGISTRAR_PROBE_SAMPLE") ?? DEFAULTS.probe.sampleSize,
      timeoutMs: int(env, "REGISTRAR_PROBE_TIMEOUT_MS") ?? DEFAULTS.probe.timeoutMs,
    },
    publicUrl: env.REGISTRAR_PUBLIC_URL || undefined,
    apiLimits: {
      perIpPerMinute: int(env, "REGISTRAR_API_RATE_PER_IP") ?? DEFAULT_API_LIMITS.perIpPerMinute,
      perKeyPerMinute: int(env, "REGISTRAR_API_RATE_PER_KEY") ?? DEFAULT_API_LIMITS.perKeyPerMinute,
      newPerIpPerHour:
        int(env, "REGISTRAR_NEW_ATSIGNS_PER_IP") ?? DEFAULT_API_LIMITS.newPerIpPerHour,
      newPerKeyPerHour:
        int(env, "REGISTRAR_NEW_ATSIGNS_PER_KEY") ?? DEFAULT_API_LIMITS.newPerKeyPerHour,
    },
  });
  const smtp: SmtpConfig | undefined = env.SMTP_HOST
    ? {
        host: env.SMTP_HOST,
        port: int(env, "SMTP_PORT") ?? 587,
        secure: env.SMTP_SECURE === "true",
        user: env.SMTP_USER || undefined,
        pass: env.SMTP_PASS || undefined,
        from: env.SMTP_FROM ?? "atPlatform registrar <no-reply@localhost>",
      }
    : undefined;
  const orchestrator = env.REGISTRAR_ORCHESTRATOR || "local";
  if (orchestrator !== "local" && orchestrator !== "swarm")
    throw new ConfigError(
      `REGISTRAR_ORCHESTRATOR must be "local" or "swarm", got "${orchestrator}"`,
    );
  if (!env.REGISTRAR_DIRECTORY_FILE && !env.REGISTRAR_DIRECTORY_REDIS)
    throw new ConfigError("set REGISTRAR_DIRECTORY_FILE or REGISTRAR_DIRECTORY_REDIS");
  return {
    registrar,
    root,
    caFile: env.REGISTRAR_CA_FILE || undefined,
    certFile: env.REGISTRAR_CERT_FILE || undefined,
    keyFile: env.REGISTRAR_KEY_FILE || undefined,
    directoryFile: env.REGISTRAR_DIRECTORY_FILE || undefined,
    directoryRedis: env.REGISTRAR_DIRECTORY_REDIS
      ? {
          url: env.REGISTRAR_DIRECTORY_REDIS,
          password: env.REGISTRAR_DIRECTORY_REDIS_PASSWORD || undefined,
          channel: env.REGISTRAR_DIRECTORY_CHANNEL || undefined,
        }
      : undefined,
    smtp,
    mailToLog: env.REGISTRAR_MAIL_TO_LOG === "true",
    atserversHome: env.REGISTRAR_ATSERVERS_HOME ?? dataDir,
    atserverBin: env.REGISTRAR_ATSERVER_BIN || undefined,
    orchestrator,
  };
}
