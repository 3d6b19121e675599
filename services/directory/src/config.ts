// The directory's one typed configuration: every setting is a command-line flag and an
// environment variable ATDIRECTORY_<FLAG>; the command line wins over the environment,
// which wins over the defaults below. Validated here and nowhere else.
import { ConfigError } from "./errors";
import { parseAddressList } from "./address-list";
import { isHostPort } from "./records";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface DirectoryConfig {
  /** TLS listen port (0 = pick a free one). */
  port: number;
  host: string;
  /**
   * Certificate chain and private key: file path(s) (reloaded when they change;
   * comma-separated for several pairs, e.g. ECDSA and RSA) or PEM text.
   */
  cert: string;
  key: string;
  /** File store: path of the `atsign host:port` records file. */
  records?: string;
  /** Redis store: redis:// or rediss:// URL of the read endpoint. */
  redis?: string;
  /** CA (path or PEM) that signs the Redis server certificate; implies TLS. */
  redisCa?: string;
  /** From the environment only (ATDIRECTORY_REDIS_PASSWORD), never from argv. */
  redisPassword?: string;
  redisCommandTimeoutMs: number;
  /** Pub/sub channel the registrar publishes changed atSigns on. */
  redisChannel: string;
  /** Key the registrar's writer keeps on the primary; a Redis node without it is not read. */
  redisSentinelKey: string;
  /** How often the reads node's replication state (INFO replication) is checked. */
  redisHealthIntervalMs: number;
  /** A replica that heard nothing from its primary this long answers no `null`s. */
  redisMaxReplicaSilenceMs: number;
  cacheTtlMs: number;
  /** While invalidations arrive, expired entries up to this age are answered and refreshed. */
  cacheMaxStaleMs: number;
  /** Upstream root (host:port over TLS) asked about atSigns the local store does not know. */
  upstream?: string;
  upstreamCa?: string;
  upstreamTimeoutMs: number;
  /** Concurrent connections to the upstream, each one lookup at a time. */
  upstreamConnections: number;
  upstreamCacheTtlMs: number;
  /** HTTP ops port (/healthz, /readyz, /metrics); -1 disables it, 0 picks a free one. */
  httpPort: number;
  httpHost: string;
  /** Delay of the 2nd and later unknown answers on one connection (reference: 3000). */
  throttleDelayMs: number;
  /** The Nth unknown answer on one connection closes it instead (reference: 3). */
  throttleCloseAfter: number;
  /** Unknown answers allowed per client IP per window, across connections (0 = off). */
  ipMissBudget: number;
  ipMissWindowMs: number;
  /** Addresses and CIDR ranges the per-IP budget does not apply to (monitoring, registrar). */
  ipBudgetExempt: string[];
  /** Global connection cap; at the cap the heaviest IP's longest-idle connection is closed. */
  maxConnections: number;
  /** Connections per client IP (0 = no cap); the IP's own longest-idle one makes room. */
  maxConnectionsPerIp: number;
  /** Close connections idle this long (0 = never, the default: clients keep one). */
  idleTimeoutMs: number;
  /** Once half of maxConnections are open, close connections idle this long (0 = never). */
  idleTimeoutUnderLoadMs: number;
  handshakeTimeoutMs: number;
  drainTimeoutMs: number;
  /** On stop, keep serving this long with /readyz failing before draining. */
  shutdownDelayMs: number;
  /** How often files (records, certs) are polled for changes, besides fs.watch. */
  watchIntervalMs: number;
  logLevel: LogLevel;
}

type Kind = "int" | "string" | "hostport" | "level" | "cidrs";

interface Flag {
  name: string;
  key: keyof DirectoryConfig;
  kind: Kind;
  help: string;
  min?: number;
  envOnly?: boolean;
}

const FLAGS: Flag[] = [
  { name: "port", key: "port", kind: "int", min: 0, help: "TLS port to listen on (default 64)" },
  { name: "host", key: "host", kind: "string", help: "address to bind (default 0.0.0.0)" },
  {
    name: "cert",
    key: "cert",
    kind: "string",
    help: "certificate chain PEM file(s), comma-separated for several pairs (required)",
  },
  {
    name: "key",
    key: "key",
    kind: "string",
    help: "private key PEM file(s), in the same order as --cert (required)",
  },
  { name: "records", key: "records", kind: "string", help: "file store: `atsign host:port` lines" },
  { name: "redis", key: "redis", kind: "string", help: "Redis store: redis[s]://host:port[/db]" },
  { name: "redis-ca", key: "redisCa", kind: "string", help: "CA PEM for Redis TLS (implies TLS)" },
  {
    name: "redis-password",
    key: "redisPassword",
    kind: "string",
    envOnly: true,
    help: "Redis AUTH password (environment only)",
  },
  {
    name: "redis-command-timeout-ms",
    key: "redisCommandTimeoutMs",
    kind: "int",
    min: 1,
    help: "Redis command timeout (default 500)",
  },
  {
    name: "redis-channel",
    key: "redisChannel",
    kind: "string",
    help: "invalidation pub/sub channel (default atdirectory:invalidate)",
  },
  {
    name: "redis-sentinel-key",
    key: "redisSentinelKey",
    kind: "string",
    help:
      "key the registrar's writer sets on the primary; a Redis node without it (empty, " +
      "resyncing) is not read (default atdirectory:sentinel)",
  },
  {
    name: "redis-health-interval-ms",
    key: "redisHealthIntervalMs",
    kind: "int",
    min: 50,
    help: "how often the Redis node's replication state is checked (default 1000)",
  },
  {
    name: "redis-max-replica-silence-ms",
    key: "redisMaxReplicaSilenceMs",
    kind: "int",
    min: 1000,
    help:
      "a replica that heard nothing from its primary this long answers no null " +
      "(default 25000; the primary pings every 10 s)",
  },
  {
    name: "cache-ttl-ms",
    key: "cacheTtlMs",
    kind: "int",
    min: 0,
    help: "Redis cache TTL, the staleness bound without pub/sub (default 10000)",
  },
  {
    name: "cache-max-stale-ms",
    key: "cacheMaxStaleMs",
    kind: "int",
    min: 0,
    help:
      "while pub/sub invalidations arrive, answer expired cache entries up to this age " +
      "and refresh them in the background (default 300000, 0 = off)",
  },
  { name: "upstream", key: "upstream", kind: "hostport", help: "upstream root host:port" },
  { name: "upstream-ca", key: "upstreamCa", kind: "string", help: "CA PEM for the upstream" },
  {
    name: "upstream-timeout-ms",
    key: "upstreamTimeoutMs",
    kind: "int",
    min: 1,
    help: "upstream connect+answer timeout (default 3000)",
  },
  {
    name: "upstream-connections",
    key: "upstreamConnections",
    kind: "int",
    min: 1,
    help: "concurrent upstream connections, one lookup at a time each (default 4)",
  },
  {
    name: "upstream-cache-ttl-ms",
    key: "upstreamCacheTtlMs",
    kind: "int",
    min: 0,
    help: "how long positive upstream answers are cached (default 300000)",
  },
  {
    name: "http-port",
    key: "httpPort",
    kind: "int",
    min: -1,
    help: "ops HTTP port for /healthz /readyz /metrics (default 8080, -1 = off)",
  },
  { name: "http-host", key: "httpHost", kind: "string", help: "ops HTTP bind address" },
  {
    name: "throttle-delay-ms",
    key: "throttleDelayMs",
    kind: "int",
    min: 0,
    help: "delay of 2nd+ unknown answer per connection (default 3000)",
  },
  {
    name: "throttle-close-after",
    key: "throttleCloseAfter",
    kind: "int",
    min: 2,
    help: "Nth unknown answer closes the connection (default 3)",
  },
  {
    name: "ip-miss-budget",
    key: "ipMissBudget",
    kind: "int",
    min: 0,
    help: "unknown answers per client IP per window (default 60, 0 = off)",
  },
  {
    name: "ip-miss-window-ms",
    key: "ipMissWindowMs",
    kind: "int",
    min: 1,
    help: "window of the per-IP budget (default 60000)",
  },
  {
    name: "ip-budget-exempt",
    key: "ipBudgetExempt",
    kind: "cidrs",
    help:
      "comma-separated addresses/CIDRs exempt from the per-IP budget and connection cap " +
      "(monitoring, registrar, a NAT you trust)",
  },
  {
    name: "max-connections",
    key: "maxConnections",
    kind: "int",
    min: 1,
    help: "connection cap; closes the heaviest IP's longest-idle first (default 10000)",
  },
  {
    name: "max-connections-per-ip",
    key: "maxConnectionsPerIp",
    kind: "int",
    min: 0,
    help:
      "connections per client IP; the IP's longest-idle one is closed for a new one " +
      "(default 100, 0 = off; --ip-budget-exempt addresses are not capped)",
  },
  {
    name: "idle-timeout-ms",
    key: "idleTimeoutMs",
    kind: "int",
    min: 0,
    help: "close idle connections after this (default 0 = never)",
  },
  {
    name: "idle-timeout-under-load-ms",
    key: "idleTimeoutUnderLoadMs",
    kind: "int",
    min: 0,
    help:
      "once half of --max-connections are open, close connections idle this long " +
      "(default 60000, 0 = never)",
  },
  {
    name: "handshake-timeout-ms",
    key: "handshakeTimeoutMs",
    kind: "int",
    min: 1,
    help: "TLS handshake timeout (default 10000)",
  },
  {
    name: "drain-timeout-ms",
    key: "drainTimeoutMs",
    kind: "int",
    min: 0,
    help: "graceful stop: max wait for in-flight lookups (default 10000)",
  },
  {
    name: "shutdown-delay-ms",
    key: "shutdownDelayMs",
    kind: "int",
    min: 0,
    help: "on SIGTERM, keep serving this long with /readyz 503 before draining (default 0)",
  },
  {
    name: "watch-interval-ms",
    key: "watchIntervalMs",
    kind: "int",
    min: 50,
    help: "poll interval for records/cert file changes (default 2000)",
  },
  {
    name: "log-level",
    key: "logLevel",
    kind: "level",
    help: "fatal|error|warn|info|debug|trace|silent (default info)",
  },
];

export const DEFAULTS = {
  port: 64,
  host: "0.0.0.0",
  redisCommandTimeoutMs: 500,
  redisChannel: "atdirectory:invalidate",
  redisSentinelKey: "atdirectory:sentinel",
  redisHealthIntervalMs: 1000,
  redisMaxReplicaSilenceMs: 25_000,
  cacheTtlMs: 10_000,
  cacheMaxStaleMs: 300_000,
  upstreamTimeoutMs: 3000,
  upstreamConnections: 4,
  upstreamCacheTtlMs: 300_000,
  httpPort: 8080,
  httpHost: "0.0.0.0",
  throttleDelayMs: 3000,
  throttleCloseAfter: 3,
  ipMissBudget: 60,
  ipMissWindowMs: 60_000,
  ipBudgetExempt: [] as string[],
  maxConnections: 10_000,
  maxConnectionsPerIp: 100,
  idleTimeoutMs: 0,
  idleTimeoutUnderLoadMs: 60_000,
  handshakeTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
  shutdownDelayMs: 0,
  watchIntervalMs: 2000,
  logLevel: "info",
} satisfies Partial<DirectoryConfig>;

const LEVELS: LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function envName(flag: string): string {
  return `ATDIRECTORY_${flag.toUpperCase().replace(/-/g, "_")}`;
}

export function helpText(): string {
  const rows = FLAGS.map((f) => {
    const left = f.envOnly
      ? `(environment only) ${envName(f.name)}`
      : `--${f.name}  ${envName(f.name)}`;
    return `  ${left}\n      ${f.help}`;
  });
  return [
    "Usage: atdirectory --cert <pem> --key <pem> (--records <file> | --redis <url>) [options]",
    "",
    "The atDirectory (root server). Each flag can also be given as the environment",
    "variable shown; a flag on the command line wins over the environment.",
    "",
    ...rows,
    "  --help\n      print this help",
    "",
  ].join("\n");
}

function convert(flag: Flag, raw: string, origin: string): unknown {
  switch (flag.kind) {
    case "int": {
      if (!/^-?\d+$/.test(raw.trim())) {
        throw new ConfigError(`${origin}: expected an integer, got ${JSON.stringify(raw)}`);
      }
      const n = Number(raw);
      if (flag.min !== undefined && n < flag.min) {
        throw new ConfigError(`${origin}: must be >= ${flag.min}, got ${n}`);
      }
      return n;
    }
    case "hostport":
      if (!isHostPort(raw)) throw new ConfigError(`${origin}: expected host:port, got "${raw}"`);
      return raw;
    case "level":
      if (!LEVELS.includes(raw as LogLevel)) {
        throw new ConfigError(`${origin}: expected one of ${LEVELS.join("|")}, got "${raw}"`);
      }
      return raw;
    case "string":
      if (raw === "") throw new ConfigError(`${origin}: must not be empty`);
      return raw;
    case "cidrs":
      try {
        return parseAddressList(raw);
      } catch (err) {
        throw new ConfigError(`${origin}: ${(err as Error).message}`);
      }
  }
}

export interface ParsedArgs {
  help: boolean;
  config?: DirectoryConfig;
}

/** Parses argv (`--flag value` or `--flag=value`) and the environment into a config. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const values: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    const raw = env[envName(flag.name)];
    if (raw !== undefined && raw !== "") {
      values[flag.key] = convert(flag, raw, envName(flag.name));
    }
  }
  const fromArgv = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { help: true };
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const flag = FLAGS.find((f) => f.name === name);
    if (!flag) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (flag.envOnly) {
      throw new ConfigError(`--${name} is not accepted on the command line; set ${envName(name)}`);
    }
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined) throw new ConfigError(`--${name} needs a value`);
    values[flag.key] = convert(flag, raw, `--${name}`);
    fromArgv.add(flag.key);
  }
  if (fromArgv.has("redis") && /^rediss?:\/\/[^/@]*:[^/@]*@/.test(String(values.redis))) {
    throw new ConfigError(
      "--redis must not contain a password (argv is visible to other users); " +
        "set ATDIRECTORY_REDIS_PASSWORD",
    );
  }
  return { help: false, config: resolveConfig(values as Partial<DirectoryConfig>) };
}

/** Fills defaults and checks the combination; used by the CLI and by in-process callers. */
export function resolveConfig(
  input: Partial<DirectoryConfig>,
  opts: { storeProvided?: boolean } = {},
): DirectoryConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const cfg = { ...DEFAULTS, ...defined } as DirectoryConfig;
  if (!cfg.cert) throw new ConfigError("--cert (ATDIRECTORY_CERT) is required");
  if (!cfg.key) throw new ConfigError("--key (ATDIRECTORY_KEY) is required");
  if (cfg.records && cfg.redis) {
    throw new ConfigError("use either --records (file store) or --redis (Redis store), not both");
  }
  if (!cfg.records && !cfg.redis && !cfg.upstream && !opts.storeProvided) {
    throw new ConfigError(
      "no store: give --records <file> (ATDIRECTORY_RECORDS) or --redis <url> " +
        "(ATDIRECTORY_REDIS), and/or --upstream <host:port>",
    );
  }
  if (cfg.redis) {
    let url: URL;
    try {
      url = new URL(cfg.redis);
    } catch {
      throw new ConfigError(`--redis: not a URL: "${cfg.redis}"`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      throw new ConfigError(`--redis: expected redis:// or rediss://, got "${url.protocol}"`);
    }
  }
  if (cfg.redisCa && !cfg.redis) throw new ConfigError("--redis-ca needs --redis");
  if (cfg.upstreamCa && !cfg.upstream) throw new ConfigError("--upstream-ca needs --upstream");
  if (cfg.upstream && !isHostPort(cfg.upstream)) {
    throw new ConfigError(`--upstream: expected host:port, got "${cfg.upstream}"`);
  }
  if (cfg.port > 65535 || cfg.httpPort > 65535) throw new ConfigError("ports must be <= 65535");
  try {
    cfg.ipBudgetExempt = parseAddressList(cfg.ipBudgetExempt);
  } catch (err) {
    throw new ConfigError(`--ip-budget-exempt: ${(err as Error).message}`);
  }
  return cfg;
}
