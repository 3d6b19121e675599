/** Invalid configuration (bad flag, missing file, contradictory settings). */
export class ConfigError extends Error {
  override name = "ConfigError";
}
