// The atServer's one typed configuration. Every setting is a command-line flag, an
// environment variable ATSERVER_<FLAG> and, where the reference atServer has one, its
// environment name too. Precedence: command line > ATSERVER_* > reference name > default.
// Validated here and nowhere else.
import { readFileSync } from "node:fs";
import { atSignBody } from "@atplatform/protocol/src/core";
import { MAX_COMMAND_BYTES } from "./engine/connection";
import { ConfigError } from "./errors";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface AtServerConfig {
  /** The atSign this server belongs to, `@alice`. */
  atSign: string;
  port: number;
  /** Bind address (reference: 0.0.0.0). */
  host: string;
  /** Certificate chain / private key PEM files (reloaded on change and on the `restart` file). */
  cert: string;
  key: string;
  /** Trusted CA bundle for peers (client certificates in, server certificates out). */
  ca?: string;
  /** This atSign's storage directory (holds the SQLite store). */
  storage: string;
  /** CRAM secret file, read on first start only (never the secret itself on the command line). */
  cramSecretFile?: string;
  /** From ATSERVER_CRAM_SECRET only; prefer the file. */
  cramSecret?: string;
  /** atDirectory `host:port`, for lookups of other atSigns (federation). */
  root?: string;
  /** Separate client certificate/key for atServer-to-atServer TLS (defaults to cert/key). */
  clientCert?: string;
  clientKey?: string;
  inboundMaxLimit: number;
  outboundMaxLimit: number;
  /** Idle limits (time since the client last sent something), ms. */
  unauthIdleMs: number;
  authIdleMs: number;
  outboundIdleMs: number;
  /** Unauthenticated connections at the same time from one IP. */
  unauthPerIp: number;
  /** Inbound slots that only owner-authenticated sessions keep. */
  ownerReservedConnections: number;
  /** An unauthenticated connection is closed this long after it opened, ms. */
  unauthLifetimeMs: number;
  /** Longest command before authentication, bytes. */
  unauthMaxCommandBytes: number;
  /** Longest command on a pol connection (a peer's notification), bytes. */
  peerMaxCommandBytes: number;
  /** Reading pauses while commands of this many bytes wait on a connection. */
  inputBudgetBytes: number;
  /** A monitor with more than this unsent is closed, bytes. */
  maxOutputBytes: number;
  /** Bytes of notifications one peer may send each minute. */
  notifyPeerBytesPerMinute: number;
  /** Stored received notifications of one sender, bytes (the oldest make room). */
  notifyPeerQuotaBytes: number;
  /** Stored received notifications in all, bytes (the oldest make room). */
  notifyQuotaBytes: number;
  /** Background sweep of expired keys, ms. */
  expirySweepMs: number;
  /** Stats notifications to monitors, ms (-1 = off). */
  statsNotificationMs: number;
  syncPageLimit: number;
  /** Enables `config:set/reset/print`. */
  testingMode: boolean;
  autoNotify: boolean;
  /** Require a client certificate on `from:` by another atSign. */
  clientCertificateRequired: boolean;
  /** Inbound `from:`/`pol` handshakes allowed per peer atSign and per IP each minute. */
  polHandshakesPerMinute: number;
  /** Failed cram/pkam attempts a connection may make; the last one is answered and closed. */
  maxAuthFailures: number;
  /**
   * Sign bare-UUID pol challenges of older servers (not bound to the verifier, so a peer
   * could relay them); off = only challenges naming the server we dialled are signed.
   */
  polLegacyChallenges: boolean;
  maxNotificationRetries: number;
  /** A recipient whose connection failed gets no delivery attempt for this long, ms. */
  notificationQuarantineMs: number;
  /** Outbound queue run (besides on enqueue) and retry wait of a refused notification, ms. */
  notificationJobMs: number;
  /** Notification records (sent and received) kept; undelivered sent ones are never dropped. */
  maxNotifications: number;
  notificationExpiryMs: number;
  /** How often cert/key files are polled for changes (and the `restart` file looked for). */
  certPollMs: number;
  /** Grace time for connections on SIGTERM before they are cut, ms. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** Prometheus /metrics port; absent = no endpoint and no metrics code loaded. */
  metricsPort?: number;
  /** Address the metrics endpoint binds (default loopback). */
  metricsHost: string;
}

type Kind = "int" | "string" | "bool" | "level" | "atsign";

interface Setting {
  flag: string;
  short?: string;
  key: keyof AtServerConfig;
  kind: Kind;
  help: string;
  /** Reference atServer environment names (Part: platform-notes §4). */
  ref?: string[];
  /** Multiply a reference value into our unit (e.g. minutes → ms). */
  refScale?: number;
  envOnly?: boolean;
}

export const SETTINGS: Setting[] = [
  {
    flag: "at-sign",
    short: "a",
    key: "atSign",
    kind: "atsign",
    // ATSERVER_ATSIGN is the name the cloud stack and the docs use.
    ref: ["ATSERVER_ATSIGN"],
    help: "the atSign served, e.g. @alice (required)",
  },
  { flag: "port", short: "p", key: "port", kind: "int", help: "TLS port (required; 0 = pick one)" },
  { flag: "host", key: "host", kind: "string", help: "address to bind (default 0.0.0.0)" },
  {
    flag: "cert",
    key: "cert",
    kind: "string",
    ref: ["securityCertificateChainLocation"],
    help: "certificate chain PEM file (required)",
  },
  {
    flag: "key",
    key: "key",
    kind: "string",
    ref: ["securityPrivateKeyLocation"],
    help: "private key PEM file (required)",
  },
  {
    flag: "ca",
    key: "ca",
    kind: "string",
    ref: ["securityTrustedCertificateLocation"],
    help: "trusted CA bundle PEM for peer atServers",
  },
  {
    flag: "storage",
    short: "s",
    key: "storage",
    kind: "string",
    ref: ["secondaryStoragePath"],
    help: "storage directory (required)",
  },
  {
    flag: "cram-secret-file",
    key: "cramSecretFile",
    kind: "string",
    help: "file holding the CRAM secret (read on first start)",
  },
  {
    flag: "cram-secret",
    key: "cramSecret",
    kind: "string",
    envOnly: true,
    help: "the CRAM secret itself (environment only)",
  },
  {
    flag: "root",
    key: "root",
    kind: "string",
    help: "atDirectory host:port (other atSigns; without it this server talks to no one)",
  },
  {
    flag: "client-cert",
    key: "clientCert",
    kind: "string",
    help: "client certificate PEM for outbound atServer TLS",
  },
  {
    flag: "client-key",
    key: "clientKey",
    kind: "string",
    help: "client private key PEM for outbound atServer TLS",
  },
  {
    flag: "inbound-max",
    key: "inboundMaxLimit",
    kind: "int",
    ref: ["inbound_max_limit"],
    help: "max inbound connections (default 200)",
  },
  {
    flag: "outbound-max",
    key: "outboundMaxLimit",
    kind: "int",
    ref: ["outbound_max_limit"],
    help: "max outbound connections (default 200)",
  },
  {
    flag: "idle-ms",
    key: "unauthIdleMs",
    kind: "int",
    ref: ["inbound_idletime_millis"],
    help: "idle limit of unauthenticated connections, ms (default 600000)",
  },
  {
    flag: "auth-idle-ms",
    key: "authIdleMs",
    kind: "int",
    ref: ["authenticated_inbound_idletime_millis"],
    help: "idle limit of authenticated connections, ms (default 30 days)",
  },
  {
    flag: "outbound-idle-ms",
    key: "outboundIdleMs",
    kind: "int",
    ref: ["outbound_idletime_millis"],
    help: "idle limit of outbound connections, ms (default 600000)",
  },
  {
    flag: "unauth-per-ip",
    key: "unauthPerIp",
    kind: "int",
    help: "unauthenticated connections at once from one IP (default 20)",
  },
  {
    flag: "owner-reserved-connections",
    key: "ownerReservedConnections",
    kind: "int",
    help: "inbound slots kept for the owner's authenticated sessions (default 10)",
  },
  {
    flag: "unauth-lifetime-ms",
    key: "unauthLifetimeMs",
    kind: "int",
    help: "an unauthenticated connection is closed after this long, ms (default 60000)",
  },
  {
    flag: "unauth-max-command-bytes",
    key: "unauthMaxCommandBytes",
    kind: "int",
    help: "longest command before authentication, bytes (default 65536)",
  },
  {
    flag: "peer-max-command-bytes",
    key: "peerMaxCommandBytes",
    kind: "int",
    help: "longest command of a pol peer, i.e. largest notification received (default 262144)",
  },
  {
    flag: "input-budget-bytes",
    key: "inputBudgetBytes",
    kind: "int",
    help: "reading pauses while commands of this many bytes wait (default 1048576)",
  },
  {
    flag: "max-output-bytes",
    key: "maxOutputBytes",
    kind: "int",
    help: "a monitor with more than this unsent is closed, bytes (default 1048576)",
  },
  {
    flag: "notify-peer-bytes-per-minute",
    key: "notifyPeerBytesPerMinute",
    kind: "int",
    help: "notification bytes one peer may send per minute, then AT0011 (default 16777216)",
  },
  {
    flag: "notify-peer-quota-bytes",
    key: "notifyPeerQuotaBytes",
    kind: "int",
    help: "stored received notifications per sender, bytes; oldest dropped (default 2097152)",
  },
  {
    flag: "notify-quota-bytes",
    key: "notifyQuotaBytes",
    kind: "int",
    help: "stored received notifications in all, bytes; oldest dropped (default 8388608)",
  },
  {
    flag: "expiry-sweep-ms",
    key: "expirySweepMs",
    kind: "int",
    ref: ["expiringRunFreqMins"],
    refScale: 60_000,
    help: "sweep of expired keys, ms (default 60000)",
  },
  {
    flag: "stats-notification-ms",
    key: "statsNotificationMs",
    kind: "int",
    ref: ["statsNotificationJobTimeInterval"],
    refScale: 1000,
    help: "stats notifications to monitors, ms; -1 off (default 15000)",
  },
  {
    flag: "metrics-port",
    key: "metricsPort",
    kind: "int",
    help: "Prometheus /metrics on this port (default: off; 0 = pick one)",
  },
  {
    flag: "metrics-host",
    key: "metricsHost",
    kind: "string",
    help: "address the metrics endpoint binds (default 127.0.0.1)",
  },
  {
    flag: "sync-page-limit",
    key: "syncPageLimit",
    kind: "int",
    ref: ["syncPageLimit"],
    help: "entries per sync:from answer (default 25)",
  },
  {
    flag: "testing-mode",
    key: "testingMode",
    kind: "bool",
    ref: ["testingMode"],
    help: "enable config:set/reset/print",
  },
  {
    flag: "auto-notify",
    key: "autoNotify",
    kind: "bool",
    ref: ["autoNotify"],
    help: "notify sharedWith atSigns of updates (default true)",
  },
  {
    flag: "client-cert-required",
    key: "clientCertificateRequired",
    kind: "bool",
    ref: ["clientCertificateRequired"],
    help: "peers must present a client certificate (default true)",
  },
  {
    flag: "pol-handshakes-per-minute",
    key: "polHandshakesPerMinute",
    kind: "int",
    help: "inbound from:/pol handshakes per peer atSign and per IP per minute (default 30)",
  },
  {
    flag: "max-auth-failures",
    key: "maxAuthFailures",
    kind: "int",
    help: "failed cram/pkam attempts per connection; the last closes it (default 3)",
  },
  {
    flag: "pol-legacy-challenges",
    key: "polLegacyChallenges",
    kind: "bool",
    help: "sign older servers' pol challenges that do not name the verifier (default true)",
  },
  {
    flag: "max-notification-retries",
    key: "maxNotificationRetries",
    kind: "int",
    ref: ["maxNotificationRetries"],
    help: "default 30",
  },
  {
    flag: "notification-quarantine-ms",
    key: "notificationQuarantineMs",
    kind: "int",
    ref: ["notificationQuarantineDuration"],
    refScale: 1000,
    help: "pause for a recipient whose connection failed, ms (default 10000)",
  },
  {
    flag: "notification-job-ms",
    key: "notificationJobMs",
    kind: "int",
    ref: ["notificationJobFrequency"],
    refScale: 1000,
    help: "notification queue run and retry wait, ms (default 11000; also runs on enqueue)",
  },
  {
    flag: "max-notifications",
    key: "maxNotifications",
    kind: "int",
    help: "notification records kept, oldest finished dropped first (default 100000)",
  },
  {
    flag: "notification-expiry-ms",
    key: "notificationExpiryMs",
    kind: "int",
    ref: ["notificationExpiryInMins"],
    refScale: 60_000,
    help: "default 1440 min",
  },
  {
    flag: "cert-poll-ms",
    key: "certPollMs",
    kind: "int",
    help: "poll interval for cert changes and the restart file (default 5000)",
  },
  {
    flag: "shutdown-grace-ms",
    key: "shutdownGraceMs",
    kind: "int",
    help: "time given to connections on SIGTERM (default 5000)",
  },
  {
    flag: "log-level",
    key: "logLevel",
    kind: "level",
    ref: ["logLevel"],
    help: "fatal|error|warn|info|debug|trace|silent (default info)",
  },
];

export const DEFAULTS: Omit<AtServerConfig, "atSign" | "port" | "cert" | "key" | "storage"> = {
  host: "0.0.0.0",
  inboundMaxLimit: 200,
  outboundMaxLimit: 200,
  unauthIdleMs: 600_000,
  authIdleMs: 30 * 24 * 3600_000,
  outboundIdleMs: 600_000,
  unauthPerIp: 20,
  ownerReservedConnections: 10,
  unauthLifetimeMs: 60_000,
  unauthMaxCommandBytes: 65_536,
  peerMaxCommandBytes: 262_144,
  inputBudgetBytes: 1_048_576,
  maxOutputBytes: 1_048_576,
  notifyPeerBytesPerMinute: 16_777_216,
  notifyPeerQuotaBytes: 2_097_152,
  notifyQuotaBytes: 8_388_608,
  expirySweepMs: 60_000,
  statsNotificationMs: 15_000,
  syncPageLimit: 25,
  testingMode: false,
  autoNotify: true,
  clientCertificateRequired: true,
  polHandshakesPerMinute: 30,
  maxAuthFailures: 3,
  polLegacyChallenges: true,
  maxNotificationRetries: 30,
  notificationQuarantineMs: 10_000,
  notificationJobMs: 11_000,
  maxNotifications: 100_000,
  notificationExpiryMs: 1440 * 60_000,
  certPollMs: 5000,
  shutdownGraceMs: 5000,
  logLevel: "info",
  metricsHost: "127.0.0.1",
};

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

function flagOf(key: keyof AtServerConfig): string {
  return SETTINGS.find((s) => s.key === key)!.flag;
}

export function envName(flag: string): string {
  return `ATSERVER_${flag.toUpperCase().replace(/-/g, "_")}`;
}

function convert(s: Setting, raw: string, source: string, scale = 1): unknown {
  switch (s.kind) {
    case "int": {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim()))
        throw new ConfigError(`${source}: not a number: ${raw}`);
      return Math.round(Number(raw) * scale);
    }
    case "bool": {
      const v = raw.trim().toLowerCase();
      if (["true", "1", "yes", ""].includes(v)) return true;
      if (["false", "0", "no"].includes(v)) return false;
      throw new ConfigError(`${source}: not a boolean: ${raw}`);
    }
    case "level":
      if (!LEVELS.has(raw)) throw new ConfigError(`${source}: unknown log level ${raw}`);
      return raw;
    case "atsign":
      // The grammar the registrar hands names out under (services/protocol/src/atsign.ts).
      try {
        return `@${atSignBody(raw)}`;
      } catch (err) {
        throw new ConfigError(`${source}: not an atSign: ${raw} (${(err as Error).message})`);
      }
    default:
      return raw;
  }
}

export interface ParsedArgs {
  help: boolean;
  values: Partial<Record<keyof AtServerConfig, string>>;
}

/** Command-line flags: `--flag value`, `--flag=value`, `-a value`, bare `--bool-flag`. */
export function parseArgs(argv: string[]): ParsedArgs {
  const values: ParsedArgs["values"] = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    const m = /^(?:--([a-z-]+)|-([a-z]))(?:=(.*))?$/s.exec(arg);
    const s = m && SETTINGS.find((x) => (m[1] ? x.flag === m[1] : x.short === m[2]));
    if (!m || !s)
      throw new ConfigError(`unknown argument ${arg.replace(/=.*/s, "=…")} (see --help)`);
    if (s.envOnly)
      throw new ConfigError(
        `--${s.flag} is accepted from the environment only (${envName(s.flag)})`,
      );
    let v = m[3];
    if (v === undefined) {
      const next = argv[i + 1];
      if (s.kind === "bool" && (next === undefined || next.startsWith("-"))) v = "true";
      else {
        if (next === undefined) throw new ConfigError(`--${s.flag} needs a value`);
        v = next;
        i++;
      }
    }
    values[s.key] = v;
  }
  return { help, values };
}

/** Builds and validates the configuration from parsed flags and an environment. */
export function resolveConfig(args: ParsedArgs["values"], env: NodeJS.ProcessEnv): AtServerConfig {
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const s of SETTINGS) {
    const fromArg = args[s.key];
    const ours = env[envName(s.flag)];
    const refName = s.ref?.find((n) => env[n] !== undefined);
    if (fromArg !== undefined) out[s.key] = convert(s, fromArg, `--${s.flag}`);
    else if (ours !== undefined) out[s.key] = convert(s, ours, envName(s.flag));
    else if (refName !== undefined) out[s.key] = convert(s, env[refName]!, refName, s.refScale);
  }
  // The reference splits the root into two variables.
  if (args.root === undefined && env.ATSERVER_ROOT === undefined && env.rootServerUrl) {
    out.root = `${env.rootServerUrl}:${env.rootServerPort ?? "64"}`;
  }
  const missing = (["atSign", "port", "cert", "key", "storage"] as const).filter(
    (k) => out[k] === undefined,
  );
  if (missing.length > 0) {
    const names = missing.map((k) => `--${SETTINGS.find((s) => s.key === k)!.flag}`);
    throw new ConfigError(`missing required ${names.join(", ")} (see --help)`);
  }
  const cfg = out as unknown as AtServerConfig;
  if (cfg.port < 0 || cfg.port > 65535) throw new ConfigError("--port must be 0..65535");
  if (cfg.metricsPort !== undefined && (cfg.metricsPort < 0 || cfg.metricsPort > 65535))
    throw new ConfigError("--metrics-port must be 0..65535");
  if (cfg.inboundMaxLimit < 1) throw new ConfigError("--inbound-max must be >= 1");
  if (cfg.syncPageLimit < 1) throw new ConfigError("--sync-page-limit must be >= 1");
  if (cfg.notificationJobMs < 10) throw new ConfigError("--notification-job-ms must be >= 10");
  if (cfg.notificationQuarantineMs < 0)
    throw new ConfigError("--notification-quarantine-ms must be >= 0");
  if (cfg.maxNotifications < 1) throw new ConfigError("--max-notifications must be >= 1");
  if (cfg.maxAuthFailures < 1) throw new ConfigError("--max-auth-failures must be >= 1");
  for (const k of [
    "unauthPerIp",
    "unauthLifetimeMs",
    "unauthMaxCommandBytes",
    "peerMaxCommandBytes",
    "inputBudgetBytes",
    "maxOutputBytes",
    "notifyPeerBytesPerMinute",
    "notifyPeerQuotaBytes",
    "notifyQuotaBytes",
  ] as const) {
    if (cfg[k] < 1) throw new ConfigError(`--${flagOf(k)} must be >= 1`);
  }
  for (const k of ["unauthMaxCommandBytes", "peerMaxCommandBytes"] as const) {
    if (cfg[k] > MAX_COMMAND_BYTES)
      throw new ConfigError(`--${flagOf(k)} must be <= ${MAX_COMMAND_BYTES}`);
  }
  // Not checked against --inbound-max (a runtime setting): the pool leaves non-owner
  // connections at least one slot whatever the reserve.
  if (cfg.ownerReservedConnections < 0)
    throw new ConfigError("--owner-reserved-connections must be >= 0");
  if (cfg.root !== undefined && !/^[^:\s]+:\d+$/.test(cfg.root)) {
    throw new ConfigError("--root must be host:port");
  }
  if ((cfg.clientCert === undefined) !== (cfg.clientKey === undefined)) {
    throw new ConfigError("--client-cert and --client-key go together");
  }
  return cfg;
}

/** The CRAM secret from the environment or the secret file (trimmed), if any. */
export function readCramSecret(cfg: AtServerConfig): string | undefined {
  if (cfg.cramSecret) return cfg.cramSecret.trim();
  if (!cfg.cramSecretFile) return undefined;
  try {
    const s = readFileSync(cfg.cramSecretFile, "utf8").trim();
    return s === "" ? undefined : s;
  } catch (err) {
    throw new ConfigError(`cannot read --cram-secret-file: ${(err as Error).message}`);
  }
}

export function helpText(): string {
  const lines = [
    "Usage: atserver -a @alice -p <port> --cert <pem> --key <pem> --storage <dir> \\",
    "                [--cram-secret-file <file>] [--root <host:port>] [--ca <pem>] [options]",
    "",
    "Serves one atSign over TLS. Every option is also an environment variable ATSERVER_<OPTION>",
    "(upper case, '-' → '_'); reference atServer names in brackets are accepted too.",
    "Precedence: command line > ATSERVER_* > reference name > default.",
    "",
  ];
  for (const s of SETTINGS) {
    const name = s.envOnly
      ? `(env ${envName(s.flag)})`
      : `${s.short ? `-${s.short}, ` : ""}--${s.flag}`;
    const ref = s.ref ? ` [${s.ref.join(", ")}]` : "";
    lines.push(`  ${name.padEnd(30)} ${s.help}${ref}`);
  }
  lines.push("  -h, --help                     this text");
  lines.push("", 'Health probe: the protocol\'s `info:brief` (answers data:{"version",…}).');
  return lines.join("\n");
}
