// Builds the platform from a stack file (Pulumi.<env>.yaml) under mocks, once per stack
// and mode per test process, so every spec asserts on the same recorded resources.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import {
  parseConfig,
  type PlatformConfig,
  type RawConfig,
  type RawSecrets,
} from "../../components/config";
import { createPlatform, type PlatformOutputs } from "../../components/platform";
import { settle, useMocks, type Recorder } from "./mocks";

export const ROOT = join(__dirname, "..", "..");

/** Stack file config as Pulumi hands it to the program: scalars as text, objects as JSON. */
export function stackConfig(env: string): RawConfig {
  const doc = load(readFileSync(join(ROOT, `Pulumi.${env}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const raw: RawConfig = {};
  for (const [k, v] of Object.entries(doc.config))
    raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  return raw;
}

export const TEST_PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
export const TEST_PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIGfake\n-----END PRIVATE KEY-----\n";

/** The secrets an operator sets with `pulumi config set --secret` (not in the stack files). */
export function stackSecrets(): RawSecrets {
  return {
    "atplatform:rootTlsCert": pulumi.secret(TEST_PEM_CERT),
    "atplatform:rootTlsKey": pulumi.secret(TEST_PEM_KEY),
    "atplatform:registrarTlsCert": pulumi.secret(TEST_PEM_CERT),
    "atplatform:registrarTlsKey": pulumi.secret(TEST_PEM_KEY),
  };
}

export interface BuiltStack {
  cfg: PlatformConfig;
  rec: Recorder;
  out: PlatformOutputs;
}

const built = new Map<string, Promise<BuiltStack>>();
let queue: Promise<unknown> = Promise.resolve();

/** Stacks built through index.ts (the program Pulumi runs); a module loads once per process. */
const VIA_INDEX = "prod";

/**
 * The recorded stack for `env` ("dev" | "prod"); `preview` mimics a first `pulumi preview`.
 * The prod stack is built by loading index.ts with the stack file's config, so the real
 * entry point (loadConfig → createPlatform → exports) is what the prod assertions see.
 */
export function buildStack(env: string, opts: { preview?: boolean } = {}): Promise<BuiltStack> {
  const key = `${env}|${opts.preview ? "preview" : "up"}`;
  let p = built.get(key);
  if (!p) {
    // Mocks are process-global: builds run one after another.
    p = queue.then(() =>
      withoutSourceMaps(async () => {
        const rec = await useMocks({
          preview: opts.preview,
          project: stackConfig(env)["gcp:project"],
        });
        const cfg = parseConfig(stackConfig(env), stackSecrets());
        let out: PlatformOutputs;
        if (env === VIA_INDEX && !opts.preview) {
          pulumi.runtime.setAllConfig(pulumiConfig(env), Object.keys(stackSecrets()));
          try {
            out = require("../../index") as PlatformOutputs;
            await settle();
          } finally {
            pulumi.runtime.setAllConfig({});
          }
        } else {
          out = createPlatform(cfg);
          await settle();
        }
        return { cfg, rec, out };
      }),
    );
    queue = p.catch(() => undefined);
    built.set(key, p);
  }
  return p;
}

/**
 * The Pulumi SDK reads `new Error().stack` for every promise and resource; with source maps
 * on (tsx turns them on) that dominates a build's CPU time. Builds run with them off.
 */
async function withoutSourceMaps<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    return await fn();
  } finally {
    process.setSourceMapsEnabled(before);
  }
}

/** The flat config map `pulumi up` would hand the program for `env`, secrets included. */
export function pulumiConfig(env: string): Record<string, string> {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(stackConfig(env))) if (v !== undefined) all[k] = v;
  all["atplatform:rootTlsCert"] = TEST_PEM_CERT;
  all["atplatform:rootTlsKey"] = TEST_PEM_KEY;
  all["atplatform:registrarTlsCert"] = TEST_PEM_CERT;
  all["atplatform:registrarTlsKey"] = TEST_PEM_KEY;
  return all;
}

/** Runs `fn` with the process's mocks to itself (after any build in flight). */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const p = queue.then(fn);
  queue = p.catch(() => undefined);
  return p;
}
