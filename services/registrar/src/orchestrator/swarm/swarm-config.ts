import { readFileSync } from "node:fs";
import type { SwarmPorts } from "../../store/registrar-store";
import type { EngineTlsFiles } from "./engine-tls";

/** One swarm as the orchestrator sees it. */
export interface SwarmConfig {
  name: string;
  /** The managers' Docker Engine API (TLS with a client certificate); PEM texts. */
  engine: {
    host: string;
    port: number;
    ca: string;
    cert: string;
    key: string;
    /** The files the PEMs came from: re-read when they change (certificate rotation). */
    files?: EngineTlsFiles;
  };
  /** The swarm's public name (wildcard DNS to its load balancer), written to the directory. */
  publicHost: string;
  /** atServer port range published on the routing mesh, inclusive. */
  minPort: number;
  maxPort: number;
  /** atServer image, ideally pinned by digest. */
  image: string;
  /** Where the Filestore share's atServer directory is mounted on every node. */
  storageRoot: string;
  /** PEM bundle atServers trust for peers (ATSERVER_CA), e.g. the swarms' private CA. */
  atServerCa?: string;
  /** Placement constraints for atServers and storage jobs. Default ["node.role==worker"]. */
  constraints?: string[];
  /**
   * How atServer ports are published: "ingress" (the routing mesh, the default: the load
   * balancer may forward to any node) or "host" (only on the node running the task; for
   * swarms without IPVS, such as the real-engine tests' namespaces).
   */
  publishMode?: "ingress" | "host";
  /** The Docker socket on every node, for the metrics agent. Default /var/run/docker.sock. */
  dockerSocket?: string;
}

export interface SwarmOrchestratorConfig {
  swarms: SwarmConfig[];
  /** The atDirectory every atServer uses, `host:port` (ATSERVER_ROOT). */
  rootAddress: string;
  /** Default memory limit per atServer; Placement.memoryLimitMb overrides it. Default 50. */
  memoryLimitMb?: number;
  /** Deadline of every Engine API call. Default 10 s. */
  callTimeoutMs?: number;
  /** Image of the one-shot storage jobs (needs /bin/sh, mkdir, chown, mv). */
  jobImage?: string;
  /** How long a storage job may take. Default 120 s. */
  jobTimeoutMs?: number;
  /** How long stop/remove wait for the atServer's task to end. Default 60 s. */
  stopTimeoutMs?: number;
  /** Poll interval for task state. Default 1 s. */
  pollMs?: number;
  /** Engine API version in request paths. Default v1.43. */
  apiVersion?: string;
  /** Swarm's monitor window of an image update (UpdateConfig.Monitor). Default 10 s. */
  updateMonitorMs?: number;
  /** Swarm's UpdateConfig.FailureAction for image updates. Default "rollback". */
  updateFailureAction?: "rollback" | "pause";
  /** How long an image update (and its rollback) may take. Default 300 s. */
  updateTimeoutMs?: number;
  /** Clock for archive names (tests). */
  now?: () => Date;
}

const NUMBERS = [
  "memoryLimitMb",
  "callTimeoutMs",
  "jobTimeoutMs",
  "stopTimeoutMs",
  "pollMs",
  "updateMonitorMs",
  "updateTimeoutMs",
] as const;

export class SwarmConfigError extends Error {
  override name = "SwarmConfigError";
}

/**
 * Reads the JSON swarms file (REGISTRAR_SWARMS_FILE):
 * `{ "rootAddress": "root.example:64", "swarms": { "<name>": { "engine": "10.0.0.5:2376",
 *    "caFile", "certFile", "keyFile", "publicHost", "ports": "30000-30999", "image",
 *    "storageRoot", "constraints"?, "publishMode"?, "atServerCaFile"?, "dockerSocket"? } }, "memoryLimitMb"?, "callTimeoutMs"?, "jobTimeoutMs"?,
 *    "stopTimeoutMs"?, "pollMs"?, "jobImage"?, "apiVersion"?, "updateMonitorMs"?,
 *    "updateFailureAction"?, "updateTimeoutMs"? }`. Certificate files are read here and again
 * by the engine client when they change (rotation: engine-tls.ts); `rootAddress` defaults to
 * `defaults.rootAddress` (the registrar's root).
 */
export function parseSwarmOrchestratorConfig(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
  defaults: { rootAddress?: string } = {},
): SwarmOrchestratorConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SwarmConfigError(`swarms file is not JSON: ${(err as Error).message}`);
  }
  const o = obj(raw, "swarms file");
  const swarmsRaw = obj(o.swarms, "swarms");
  const swarms = Object.entries(swarmsRaw).map(([name, v]) => {
    const s = obj(v, `swarm ${name}`);
    const ep = /^([^:\s]+):(\d{1,5})$/.exec(str(s.engine, `swarm ${name}: engine`));
    if (!ep) throw new SwarmConfigError(`swarm ${name}: engine must be host:port`);
    const ports = /^(\d{1,5})-(\d{1,5})$/.exec(str(s.ports, `swarm ${name}: ports`));
    if (!ports) throw new SwarmConfigError(`swarm ${name}: ports must be first-last`);
    const files = {
      ca: str(s.caFile, `swarm ${name}: caFile`),
      cert: str(s.certFile, `swarm ${name}: certFile`),
      key: str(s.keyFile, `swarm ${name}: keyFile`),
    };
    return {
      name,
      engine: {
        host: ep[1]!,
        port: Number(ep[2]),
        ca: readPem(readFile, files.ca, `swarm ${name}: caFile`),
        cert: readPem(readFile, files.cert, `swarm ${name}: certFile`),
        key: readPem(readFile, files.key, `swarm ${name}: keyFile`),
        files,
      },
      publicHost: str(s.publicHost, `swarm ${name}: publicHost`),
      minPort: Number(ports[1]),
      maxPort: Number(ports[2]),
      image: str(s.image, `swarm ${name}: image`),
      storageRoot: str(s.storageRoot, `swarm ${name}: storageRoot`),
      ...(s.constraints !== undefined ? { constraints: strList(s.constraints, name) } : {}),
      ...(s.publishMode !== undefined
        ? { publishMode: str(s.publishMode, `swarm ${name}: publishMode`) as "ingress" | "host" }
        : {}),
      ...(s.dockerSocket !== undefined
        ? { dockerSocket: str(s.dockerSocket, `swarm ${name}: dockerSocket`) }
        : {}),
      ...(s.atServerCaFile !== undefined
        ? {
            atServerCa: readPem(
              readFile,
              str(s.atServerCaFile, `swarm ${name}: atServerCaFile`),
              `swarm ${name}: atServerCaFile`,
            ),
          }
        : {}),
    } satisfies SwarmConfig;
  });
  const root = o.rootAddress ?? defaults.rootAddress;
  const cfg: SwarmOrchestratorConfig = {
    swarms,
    rootAddress: str(root, "rootAddress"),
    ...(o.jobImage !== undefined ? { jobImage: str(o.jobImage, "jobImage") } : {}),
    ...(o.apiVersion !== undefined ? { apiVersion: str(o.apiVersion, "apiVersion") } : {}),
    ...(o.updateFailureAction !== undefined
      ? {
          updateFailureAction: str(o.updateFailureAction, "updateFailureAction") as
            "rollback" | "pause",
        }
      : {}),
  };
  for (const k of NUMBERS) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== "number") throw new SwarmConfigError(`${k} must be a number`);
    cfg[k] = o[k];
  }
  validateSwarmOrchestratorConfig(cfg);
  return cfg;
}

/** The one place the orchestrator's settings are checked. */
export function validateSwarmOrchestratorConfig(cfg: SwarmOrchestratorConfig): void {
  if (cfg.swarms.length === 0) throw new SwarmConfigError("at least one swarm is needed");
  if (!/^[^:\s]+:\d+$/.test(cfg.rootAddress))
    throw new SwarmConfigError("rootAddress must be host:port");
  const mem = cfg.memoryLimitMb;
  if (mem !== undefined && !(Number.isInteger(mem) && mem >= 6))
    throw new SwarmConfigError("memoryLimitMb must be an integer >= 6 (Docker's minimum)");
  for (const k of NUMBERS.slice(1)) {
    const v = cfg[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new SwarmConfigError(`${k} must be a positive integer (ms)`);
  }
  const action = cfg.updateFailureAction;
  if (action !== undefined && action !== "rollback" && action !== "pause")
    throw new SwarmConfigError('updateFailureAction must be "rollback" or "pause"');
  if (cfg.apiVersion !== undefined && !/^v1\.\d+$/.test(cfg.apiVersion))
    throw new SwarmConfigError("apiVersion must look like v1.43");
  const names = new Set<string>();
  for (const s of cfg.swarms) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(s.name))
      throw new SwarmConfigError(`swarm name ${s.name}: lower-case letters, digits, '-'`);
    if (names.has(s.name)) throw new SwarmConfigError(`swarm ${s.name} listed twice`);
    names.add(s.name);
    if (s.engine.port < 1 || s.engine.port > 65535)
      throw new SwarmConfigError(`swarm ${s.name}: bad engine port`);
    if (!(s.minPort >= 1024 && s.minPort <= s.maxPort && s.maxPort <= 65535))
      throw new SwarmConfigError(`swarm ${s.name}: bad port range ${s.minPort}-${s.maxPort}`);
    if (s.publishMode !== undefined && s.publishMode !== "ingress" && s.publishMode !== "host")
      throw new SwarmConfigError(`swarm ${s.name}: publishMode must be "ingress" or "host"`);
    if (s.dockerSocket !== undefined && !/^\/[^\s:]+$/.test(s.dockerSocket))
      throw new SwarmConfigError(`swarm ${s.name}: dockerSocket must be an absolute path`);
    if (!s.storageRoot.startsWith("/") || s.storageRoot.includes(".."))
      throw new SwarmConfigError(`swarm ${s.name}: storageRoot must be an absolute path`);
    for (const pem of [s.engine.ca, s.engine.cert, s.engine.key])
      if (!pem.includes("-----BEGIN"))
        throw new SwarmConfigError(`swarm ${s.name}: engine TLS files must be PEM`);
  }
}

/** The registrar's port allocation view of the same swarms. */
export function swarmPorts(cfg: SwarmOrchestratorConfig): SwarmPorts[] {
  return cfg.swarms.map((s) => ({
    name: s.name,
    host: s.publicHost,
    minPort: s.minPort,
    maxPort: s.maxPort,
  }));
}

function readPem(readFile: (path: string) => string, path: string, what: string): string {
  try {
    return readFile(path);
  } catch (err) {
    throw new SwarmConfigError(`${what}: cannot read ${path}: ${(err as Error).message}`);
  }
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw new SwarmConfigError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") throw new SwarmConfigError(`${what} must be a string`);
  return v;
}

function strList(v: unknown, swarm: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new SwarmConfigError(`swarm ${swarm}: constraints must be a list of strings`);
  return v as string[];
}
