export { Registrar, type RegistrarDeps } from "./registrar";
export {
  resolveConfig,
  configFromEnv,
  parseSwarms,
  ConfigError,
  type RegistrarConfig,
  type RolloutConfig,
} from "./config";
export {
  RolloutController,
  NothingToRollError,
  type RolloutStatus,
} from "./rollout/rollout-controller";
export { AccessKeys, type KeyKind } from "./keys/access-keys";
export { RegistrarService } from "./service";
export { RegistrarStore, type SwarmPorts } from "./store/registrar-store";
export type { AtSignRecord, AtSignState } from "./store/types";
export type {
  Orchestrator,
  Placement,
  AtServerStatus,
  ImageRollouts,
  ImageUpdateResult,
} from "./orchestrator/orchestrator";
export { LocalOrchestrator, type LocalOrchestratorConfig } from "./orchestrator/local-orchestrator";
export type { RecordWriter, RootResolver, HealthProbe } from "./provisioning/ports";
export { infoBriefProbe, rootResolver } from "./provisioning/probes";
export {
  LogMailer,
  SmtpMailer,
  maskEmail,
  type Mailer,
  type Mail,
  type SmtpConfig,
} from "./mail/mailer";
export { normalizeAtSign, shardedPath } from "./atsign";
export { setRegistrarLogLevel } from "./logger";
export { DEFAULT_API_LIMITS, type ApiLimits } from "./http/rate-limit";
export { engineEndpoints, proberDeps, type EngineEndpoint } from "./probe/prober-deps";
export type { ProberDeps, ProbeSettings } from "./probe/platform-prober";
export type { CertTarget, CertKind } from "./probe/cert-expiry";
