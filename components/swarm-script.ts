// Renders components/scripts/swarm-node.sh for one swarm and role: the script is kept as a
// file (shellcheck-able, testable) and only its variable block is generated.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SWARM_OVERLAY } from "./network";

export const SWARM_SCRIPT_PATH = join(__dirname, "scripts", "swarm-node.sh");
const PLACEHOLDER = "# @@ATP_VARS@@\n";

/** Where every swarm VM mounts the Filestore share (atServer storage lives below it). */
export const STORAGE_MOUNT = "/srv/atplatform";

export interface SwarmScriptVars {
  swarm: string;
  role: "manager" | "worker";
  project: string;
  region: string;
  /** <swarm>.<domain> */
  swarmDomain: string;
  /** Fixed internal IPs of the three managers, manager 0 first. */
  managerIps: string[];
  nfsServer: string;
  nfsShare: string;
  /** Secret Manager ids: <prefix>-ca/-cert/-key (Docker API) and <prefix>-cert/-key (wildcard). */
  dockerSecretPrefix: string;
  tlsSecretPrefix: string;
  tlsMode: "private-ca" | "acme";
  acmeEmail?: string;
  acmeServer?: string;
  /** Secret Manager id of the pinned image list every node pre-pulls. */
  imagesSecret: string;
  /** snapshot.debian.org timestamp every package comes from (the boot installs nothing newer). */
  aptSnapshot: string;
  /** Exact Ops Agent version (workers). */
  opsAgentVersion: string;
  /** Set on the one swarm whose manager 0 takes the daily Filestore backup. */
  backup?: { instance: string; location: string; keepDays: number };
}

/** Shell single-quoting; values are also checked to be one printable line. */
function quote(name: string, value: string): string {
  if (/[\n\r\0]/.test(value))
    throw new Error(`swarm script variable ${name} contains a line break`);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderSwarmScript(v: SwarmScriptVars): string {
  const template = readFileSync(SWARM_SCRIPT_PATH, "utf8");
  if (!template.includes(PLACEHOLDER))
    throw new Error(`${SWARM_SCRIPT_PATH} lost its ${PLACEHOLDER.trim()} line`);
  if (v.managerIps.length !== 3) throw new Error("a swarm has exactly three manager IPs");
  const vars: [string, string][] = [
    ["ATP_SWARM", v.swarm],
    ["ATP_ROLE", v.role],
    ["ATP_PROJECT", v.project],
    ["ATP_REGION", v.region],
    ["ATP_SWARM_DOMAIN", v.swarmDomain],
    ["ATP_MANAGER_IPS", v.managerIps.join(" ")],
    ["ATP_NFS_SERVER", v.nfsServer],
    ["ATP_NFS_SHARE", v.nfsShare],
    ["ATP_NFS_MOUNT", STORAGE_MOUNT],
    ["ATP_DOCKER_SECRET_PREFIX", v.dockerSecretPrefix],
    ["ATP_TLS_SECRET_PREFIX", v.tlsSecretPrefix],
    ["ATP_TLS_MODE", v.tlsMode],
    ["ATP_ACME_EMAIL", v.acmeEmail ?? ""],
    ["ATP_ACME_SERVER", v.acmeServer ?? ""],
    ["ATP_IMAGES_SECRET", v.imagesSecret],
    ["ATP_APT_SNAPSHOT", v.aptSnapshot],
    ["ATP_OPS_AGENT_VERSION", v.opsAgentVersion],
    ["ATP_INGRESS_SUBNET", SWARM_OVERLAY.ingress],
    ["ATP_OVERLAY_POOL", SWARM_OVERLAY.pool],
    ["ATP_OVERLAY_POOL_MASK", String(SWARM_OVERLAY.poolMask)],
    ["ATP_OVERLAY_MTU", String(SWARM_OVERLAY.mtu)],
    ["ATP_BACKUP_INSTANCE", v.backup?.instance ?? ""],
    ["ATP_BACKUP_LOCATION", v.backup?.location ?? ""],
    ["ATP_BACKUP_KEEP_DAYS", String(v.backup?.keepDays ?? 0)],
  ];
  const block = vars.map(([k, val]) => `${k}=${quote(k, val)}\n`).join("");
  return template.replace(PLACEHOLDER, block);
}
