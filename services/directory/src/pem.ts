import { readFileSync } from "node:fs";
import { ConfigError } from "./errors";

/** True when the setting holds PEM text rather than a path. */
export function isInlinePem(value: string): boolean {
  return value.includes("-----BEGIN ");
}

/** Reads a PEM setting: inline PEM text or a file path. */
export function readPem(value: string, what: string): string {
  if (isInlinePem(value)) return value;
  try {
    return readFileSync(value, "utf8");
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${value}: ${(err as Error).message}`);
  }
}
