// Shared by the real-engine specs: a test swarm with the images built, TLS files an image's
// non-root user can read, and waiting for an atServer (or any TLS server) to answer.
import { chownSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { AtClient, issueServerCertificate } from "@atplatform/protocol";
import { sleep } from "../support/docker/exec";
import type { TestDockerd } from "../support/docker/dockerd";
import { baseImage, jobImage, loadBuiltImage, serviceImage } from "../support/docker/images";
import { TestSwarm } from "../support/docker/swarm";
import { testCa } from "../support/test-ca";
import type {
  SwarmConfig,
  SwarmOrchestratorConfig,
} from "../../services/registrar/src/orchestrator/swarm";

/** The uid:gid the images run as. */
export const IMAGE_UID = 1024;

export interface Images {
  base: string;
  /** sh and the storage jobs' tools only. */
  jobs: string;
  atserver: string;
  directory: string;
  registrar: string;
}

/** Builds (or loads from the cache) the base and the service images on every node. */
export async function loadImages(swarm: TestSwarm): Promise<Images> {
  const [first, ...others] = swarm.nodes;
  const base = await baseImage(first!);
  // In parallel: most of a service image's time is its context (npm ls, tar, hashing).
  const [jobs, atserver, directory, registrar] = await Promise.all([
    jobImage(first!),
    serviceImage(first!, "atserver", base),
    serviceImage(first!, "directory", base),
    serviceImage(first!, "registrar", base),
  ]);
  const out: Images = { base, jobs, atserver, directory, registrar };
  // Built once: the other nodes load the archives the first build left in the cache.
  for (const d of others) await copyImages(d, Object.values(out));
  return out;
}

/** Loads images built earlier in this run onto `d` (only what its tests run). */
export async function copyImages(d: TestDockerd, tags: string[]): Promise<void> {
  for (const tag of tags) await loadBuiltImage(d, tag);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A directory owned by the images' user (a bind-mounted volume it writes to). */
export function ownedDir(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, IMAGE_UID, IMAGE_UID);
  return dir;
}

export interface TlsFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A server certificate for `names` from the test CA, in files the images' user can read. */
export async function tlsFiles(parent: string, names: string[]): Promise<TlsFiles> {
  const ca = await testCa();
  const leaf = await issueServerCertificate(ca, { names });
  const dir = join(parent, "certs");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "ca.pem"), ca.cert);
  writeFileSync(join(dir, "cert.pem"), leaf.cert);
  writeFileSync(join(dir, "key.pem"), leaf.key, { mode: 0o400 });
  chownSync(join(dir, "key.pem"), IMAGE_UID, IMAGE_UID);
  return { dir, ca: ca.cert, cert: leaf.cert, key: leaf.key };
}

/** Connects an AtClient once the atServer answers (generous: a loaded machine, vfs copies). */
export async function waitForAtServer(
  host: string,
  port: number,
  ca: string,
  atSign: string,
  timeoutMs = 120_000,
): Promise<AtClient> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await AtClient.connect({ host, port, ca, atSign, timeoutMs: 5000 });
      await c.from();
      return c;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`atServer ${atSign} at ${host}:${port} did not answer: ${String(last)}`);
}

/** Resolves once a TLS handshake with host:port succeeds. */
export async function waitForTls(host: string, port: number, ca: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host, port, ca }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`no TLS server at ${host}:${port}`);
}

/** GET url's body, retried until it answers 200. */
export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.status === 200) return await res.text();
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer 200: ${String(last)}`);
}

/** The swarm's wildcard pair as its maintenance job publishes it: labelled Docker secrets. */
export async function publishWildcard(
  d: TestDockerd,
  tls: TlsFiles,
  suffix: string,
): Promise<void> {
  for (const [kind, file] of [
    ["crt", "cert.pem"],
    ["key", "key.pem"],
  ] as const)
    await d.docker([
      "secret",
      "create",
      "--label=atplatform.tls=wildcard",
      `atserver-tls-${kind}-${suffix}`,
      join(tls.dir, file),
    ]);
}

/**
 * One test node as a swarm of the orchestrator: it is a manager that runs the tasks too
 * (no constraints), and it publishes in host mode (no IPVS here: the routing mesh cannot
 * forward). Production keeps ingress publishing and worker constraints.
 */
export function testSwarm(
  d: TestDockerd,
  s: Pick<SwarmConfig, "name" | "minPort" | "maxPort" | "image" | "storageRoot"> &
    Partial<SwarmConfig>,
): SwarmConfig {
  return {
    engine: { host: d.address, port: 2376, ...d.clientTls },
    publicHost: d.address,
    constraints: [],
    publishMode: "host",
    ...s,
  };
}

/** The orchestrator's settings for test swarms: API v1.41 (dockerd 20.10), quick polling. */
export function testOrchestratorConfig(
  swarms: SwarmConfig[],
  images: Images,
  rootAddress: string,
  over: Partial<SwarmOrchestratorConfig> = {},
): SwarmOrchestratorConfig {
  return {
    swarms,
    rootAddress,
    apiVersion: "v1.41",
    jobImage: images.jobs,
    callTimeoutMs: 30_000,
    jobTimeoutMs: 180_000,
    stopTimeoutMs: 120_000,
    pollMs: 250,
    ...over,
  };
}
