import { readFileSync } from "node:fs";
import { ConfigError } from "./errors";

/** True when the setting holds PEM text rather than a path. */
export function isInlinePem(value: string): boolean {
  return value.includes("-----BEGIN ");
}

/**
 * The files of a certificate or key setting: a comma-separated list of paths (several
 * pairs, e.g. ECDSA and RSA, served side by side), or none for inline PEM.
 */
export function pemFiles(value: string): string[] {
  return isInlinePem(value) ? [] : value.split(",").map((f) => f.trim());
}

/** Reads a certificate or key setting: one PEM per listed file, or the inline PEM. */
export function readPemList(value: string, what: string): string[] {
  if (isInlinePem(value)) return [value];
  return pemFiles(value).map((f) => readPem(f, what));
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
