export { LocalPlatform, type PlatformOptions } from "./platform";
export {
  localConfigFromEnv,
  defaultHome,
  LOCAL_DEFAULTS,
  type LocalConfig,
  type PlatformInfo,
} from "./config";
export { ensureLocalTls, type LocalTls } from "./tls-setup";
export { main } from "./main";
