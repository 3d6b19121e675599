// The local platform's configuration: environment variables only (see docs/local.md).
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export class LocalConfigError extends Error {
  override name = "LocalConfigError";
}

export interface LocalConfig {
  /** Data directory: CA, certificates, directory records, registrar state, atServers. */
  home: string;
  rootPort: number;
  registrarPort: number;
  /** The name or address clients dial; goes into the certificate and the directory. */
  host: string;
  /** Address the root and the registrar listen on. */
  bindHost: string;
  apiKey?: string;
  /** The registrar's admin key; generated into `<home>/admin-key` when not given. */
  adminKey?: string;
  atserverPorts: { min: number; max: number };
  /**
   * Prometheus endpoints on loopback for the directory, the registrar and each atServer,
   * on ports the system picks (recorded for `atplatform status`). On unless ATPLATFORM_METRICS=off.
   */
  metrics: boolean;
  smtp?: {
    host: string;
    port: number;
    secure: boolean;
    user?: string;
    pass?: string;
    from: string;
  };
}

export const LOCAL_DEFAULTS = {
  rootPort: 6464,
  registrarPort: 6480,
  host: "127.0.0.1",
  bindHost: "127.0.0.1",
  atserverPorts: { min: 25000, max: 25999 },
};

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.ATPLATFORM_HOME || join(homedir(), ".atplatform"));
}

function port(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535)
    throw new LocalConfigError(`${name} must be a port number (1-65535), got "${v}"`);
  return Number(v);
}

export function localConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const host = env.ATPLATFORM_HOST || LOCAL_DEFAULTS.host;
  if (!/^[A-Za-z0-9.-]+$/.test(host))
    throw new LocalConfigError(`ATPLATFORM_HOST must be a DNS name or IPv4 address, got "${host}"`);
  let atserverPorts = LOCAL_DEFAULTS.atserverPorts;
  if (env.ATPLATFORM_ATSERVER_PORTS) {
    const m = /^(\d+)-(\d+)$/.exec(env.ATPLATFORM_ATSERVER_PORTS);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535)
      throw new LocalConfigError("ATPLATFORM_ATSERVER_PORTS must look like 25000-25999");
    atserverPorts = { min: Number(m[1]), max: Number(m[2]) };
  }
  const apiKey = env.REGISTRAR_API_KEY || undefined;
  if (apiKey !== undefined && apiKey.length < 16)
    throw new LocalConfigError("REGISTRAR_API_KEY must be at least 16 characters");
  const adminKey = env.REGISTRAR_ADMIN_KEY || undefined;
  if (adminKey !== undefined && adminKey.length < 16)
    throw new LocalConfigError("REGISTRAR_ADMIN_KEY must be at least 16 characters");
  if (adminKey !== undefined && adminKey === apiKey)
    throw new LocalConfigError("REGISTRAR_ADMIN_KEY must differ from REGISTRAR_API_KEY");
  const metricsSetting = (env.ATPLATFORM_METRICS ?? "").toLowerCase();
  if (!["", "on", "off"].includes(metricsSetting))
    throw new LocalConfigError(
      `ATPLATFORM_METRICS must be on or off, got "${env.ATPLATFORM_METRICS}"`,
    );
  return {
    home: defaultHome(env),
    metrics: metricsSetting !== "off",
    rootPort: port(env, "ROOT_PORT", LOCAL_DEFAULTS.rootPort),
    registrarPort: port(env, "REGISTRAR_PORT", LOCAL_DEFAULTS.registrarPort),
    host,
    bindHost: env.ATPLATFORM_BIND || LOCAL_DEFAULTS.bindHost,
    apiKey,
    adminKey,
    atserverPorts,
    smtp: env.SMTP_HOST
      ? {
          host: env.SMTP_HOST,
          port: port(env, "SMTP_PORT", 587),
          secure: env.SMTP_SECURE === "true",
          user: env.SMTP_USER || undefined,
          pass: env.SMTP_PASS || undefined,
          from: env.SMTP_FROM || "atPlatform registrar <no-reply@localhost>",
        }
      : undefined,
  };
}

/** What a running platform writes to $ATPLATFORM_HOME/platform.json for the CLI. */
export interface PlatformInfo {
  root: string;
  registrarUrl: string;
  caFile: string;
  home: string;
  apiKeyFile: string;
  /** Holds the admin key (mode 0600); read by `atplatform status` for the atSign list. */
  adminKeyFile: string;
  /**
   * The directory's and the registrar's metrics URLs (loopback), when metrics are on; each
   * atServer's is in `<home>/atservers/<shard>/<hash>/metrics.json` while it runs.
   */
  metrics?: { directory: string; registrar: string };
}
