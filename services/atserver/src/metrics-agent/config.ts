// The metrics agent's settings: environment variables only, read and checked here.
export class AgentConfigError extends Error {
  override name = "AgentConfigError";
}

export interface AgentConfig {
  /** The node's Docker Engine API socket (mounted read-only into the agent's container). */
  dockerSocket: string;
  /** Where the merged metrics are served: loopback of the node (the agent uses the host network). */
  host: string;
  port: number;
  /** How often the atServers are discovered and scraped; /metrics serves the last round. */
  intervalMs: number;
  /** How often the manager-only swarm health is read (nodes, services, ended tasks). */
  swarmIntervalMs: number;
  /** Deadline of one atServer scrape and of one Engine API call. */
  timeoutMs: number;
  /** Largest accepted atServer metrics document, bytes. */
  maxTargetBytes: number;
  /** Largest merged document, bytes: atServers past it are left out of the round. */
  maxTotalBytes: number;
  /** Most samples taken from one atServer. */
  maxTargetSamples: number;
  /** Largest accepted Engine API answer, bytes (the ended-task list of a big swarm). */
  maxEngineBytes: number;
  /** atServers scraped at the same time. */
  concurrency: number;
  /** atServers scraped per round at most (a node holds a few hundred). */
  maxTargets: number;
}

export const AGENT_DEFAULTS: AgentConfig = {
  dockerSocket: "/var/run/docker.sock",
  host: "127.0.0.1",
  port: 9464,
  intervalMs: 15_000,
  swarmIntervalMs: 60_000,
  timeoutMs: 2_000,
  maxTargetBytes: 512 * 1024,
  maxTotalBytes: 48 * 1024 * 1024,
  maxTargetSamples: 5_000,
  maxEngineBytes: 32 * 1024 * 1024,
  concurrency: 16,
  maxTargets: 1_000,
};

const INTS: [keyof AgentConfig, string, number, number][] = [
  ["port", "ATPLATFORM_AGENT_PORT", 0, 65535],
  ["intervalMs", "ATPLATFORM_AGENT_INTERVAL_MS", 100, 3_600_000],
  ["swarmIntervalMs", "ATPLATFORM_AGENT_SWARM_INTERVAL_MS", 100, 3_600_000],
  ["timeoutMs", "ATPLATFORM_AGENT_TIMEOUT_MS", 50, 60_000],
  ["maxTargetBytes", "ATPLATFORM_AGENT_MAX_TARGET_BYTES", 1024, 64 * 1024 * 1024],
  ["maxTotalBytes", "ATPLATFORM_AGENT_MAX_TOTAL_BYTES", 1024, 1024 * 1024 * 1024],
  ["maxTargetSamples", "ATPLATFORM_AGENT_MAX_TARGET_SAMPLES", 10, 1_000_000],
  ["maxEngineBytes", "ATPLATFORM_AGENT_MAX_ENGINE_BYTES", 1024, 512 * 1024 * 1024],
  ["concurrency", "ATPLATFORM_AGENT_CONCURRENCY", 1, 256],
  ["maxTargets", "ATPLATFORM_AGENT_MAX_TARGETS", 1, 100_000],
];

export function agentConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cfg: AgentConfig = { ...AGENT_DEFAULTS };
  if (env.ATPLATFORM_AGENT_DOCKER_SOCKET) cfg.dockerSocket = env.ATPLATFORM_AGENT_DOCKER_SOCKET;
  if (env.ATPLATFORM_AGENT_HOST) cfg.host = env.ATPLATFORM_AGENT_HOST;
  for (const [key, name, min, max] of INTS) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new AgentConfigError(`${name} must be an integer ${min}..${max}, got "${v}"`);
    (cfg as unknown as Record<string, number>)[key] = Number(v);
  }
  if (!cfg.dockerSocket.startsWith("/"))
    throw new AgentConfigError("ATPLATFORM_AGENT_DOCKER_SOCKET must be an absolute path");
  return cfg;
}
