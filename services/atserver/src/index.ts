export { AtServer, type AtServerOptions } from "./server";
export {
  DEFAULTS,
  helpText,
  parseArgs,
  resolveConfig,
  SETTINGS,
  envName,
  type AtServerConfig,
} from "./config";
export type { Peers, RemoteLookup, ServerContext, CommitEvent } from "./context";
export { ConfigError } from "./errors";
export { Connection } from "./engine/connection";
export { SERVER_VERSION } from "./version";
