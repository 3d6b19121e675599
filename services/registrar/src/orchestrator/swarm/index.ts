export { SwarmOrchestrator, type EngineService, type EngineTask } from "./swarm-orchestrator";
export {
  parseSwarmOrchestratorConfig,
  swarmPorts,
  validateSwarmOrchestratorConfig,
  SwarmConfigError,
  type SwarmConfig,
  type SwarmOrchestratorConfig,
} from "./swarm-config";
export * from "./errors";
export { NoCertificateError } from "./secrets";
export { atServerServiceSpec, serviceName, storageHostPath, cramSecretName } from "./service-spec";
export { swarmOrchestratorFromEnv } from "./from-env";
