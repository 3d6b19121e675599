import { readFileSync } from "node:fs";
import { engineEndpoints, type EngineEndpoint } from "../../probe/prober-deps";
import type { SwarmPorts } from "../../store/registrar-store";
import { parseSwarmOrchestratorConfig, swarmPorts, SwarmConfigError } from "./swarm-config";
import { SwarmOrchestrator } from "./swarm-orchestrator";

/**
 * The registrar's wiring for REGISTRAR_ORCHESTRATOR=swarm: reads REGISTRAR_SWARMS_FILE and
 * returns the orchestrator plus the swarms (public host and port range) to allocate from.
 */
export function swarmOrchestratorFromEnv(env: NodeJS.ProcessEnv = process.env): {
  orchestrator: SwarmOrchestrator;
  swarms: SwarmPorts[];
  /** Each swarm's Engine API endpoint and client certificate (the prober reads its cert). */
  engines: EngineEndpoint[];
} {
  const file = env.REGISTRAR_SWARMS_FILE;
  if (!file)
    throw new SwarmConfigError("REGISTRAR_SWARMS_FILE is required for the swarm orchestrator");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SwarmConfigError(`cannot read REGISTRAR_SWARMS_FILE: ${(err as Error).message}`);
  }
  const cfg = parseSwarmOrchestratorConfig(text, undefined, { rootAddress: env.REGISTRAR_ROOT });
  return {
    orchestrator: new SwarmOrchestrator(cfg),
    swarms: swarmPorts(cfg),
    engines: engineEndpoints(cfg.swarms),
  };
}
