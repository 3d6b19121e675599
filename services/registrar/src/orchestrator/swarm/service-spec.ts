// Pure builders of the Engine API objects: names, labels, the atServer's service spec and
// the storage jobs' specs. Everything the tests compare byte for byte is made here.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { shardedPath, withAt } from "../../atsign";
import type { Placement } from "../orchestrator";
import type { SwarmConfig } from "./swarm-config";

export const LABEL_ATSIGN = "atplatform.atsign";
export const LABEL_KIND = "atplatform.kind";
export const LABEL_SWARM = "atplatform.swarm";
export const LABEL_HOST = "atplatform.host";
export const LABEL_PORT = "atplatform.port";
export const LABEL_MEMORY = "atplatform.memory-mb";
export const LABEL_SPEC = "atplatform.spec-hash";
/** The image the registrar set (the engine may rewrite ContainerSpec.Image with a digest). */
export const LABEL_IMAGE = "atplatform.image";
export const LABEL_TLS = "atplatform.tls";
/** On the atServer's container: where its metrics endpoint answers (the node agent reads it). */
export const LABEL_METRICS_PORT = "atplatform.metrics-port";

/**
 * The atServer's metrics port inside its container: on the node's local bridge only, never
 * published; the per-node metrics agent (metrics-agent.ts) scrapes it.
 */
export const ATSERVER_METRICS_PORT = 9465;

/** Where things are inside the atServer container. */
export const CONTAINER = {
  storage: "/atsign/storage",
  cert: "/run/secrets/atserver-tls.crt",
  key: "/run/secrets/atserver-tls.key",
  cram: "/run/secrets/atserver-cram",
  ca: "/run/secrets/atserver-ca.pem",
} as const;

/** uid/gid of the atServer user in the image (the reference image uses 1024 too). */
export const ATSERVER_UID = "1024";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Deterministic per atSign, so a concurrent second create fails with 409 in the engine. */
export function serviceName(atsign: string): string {
  return `atserver-${sha256(atsign).slice(0, 24)}`;
}

export function jobName(kind: "mkdir" | "archive", atsign: string): string {
  return `atserver-job-${kind}-${sha256(atsign).slice(0, 24)}`;
}

/** A content-addressed secret name: rotating the secret creates a new Docker secret. */
export function cramSecretName(atsign: string, content: string): string {
  return `atserver-cram-${sha256(atsign).slice(0, 16)}-${sha256(content).slice(0, 16)}`;
}

export function caSecretName(pem: string): string {
  return `atserver-ca-${sha256(pem).slice(0, 12)}`;
}

/** The atSign's storage below the storage root: `<2 hex>/<sha256 hex>` (as the local one). */
export function storageRelPath(atsign: string): string {
  return shardedPath(atsign);
}

export function storageHostPath(swarm: SwarmConfig, atsign: string): string {
  return posix.join(swarm.storageRoot, storageRelPath(atsign));
}

export function archiveRelPath(atsign: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:.]/g, "");
  return `archive/${sha256(atsign)}-${stamp}`;
}

export interface SecretRef {
  id: string;
  name: string;
}

export interface AtServerSecrets {
  cert: SecretRef;
  key: SecretRef;
  cram: SecretRef;
  /** CA bundle for peers' certificates, when the swarm config has one. */
  ca?: SecretRef;
}

/** Swarm's update policy for an atServer's image updates (swarms file `update`). */
export interface UpdatePolicy {
  /** How long a new task must keep running before Swarm counts the update a success. */
  monitorMs: number;
  /** What Swarm does when the new task fails within the monitor window. */
  failureAction: "rollback" | "pause";
}

export const DEFAULT_UPDATE_POLICY: UpdatePolicy = { monitorMs: 10_000, failureAction: "rollback" };

export interface AtServerSpecInput {
  atsign: string;
  swarm: SwarmConfig;
  /** The image to run: the swarm's configured one for a new service, else the service's own. */
  image: string;
  update: UpdatePolicy;
  placement: Placement;
  memoryLimitMb: number;
  rootAddress: string;
  secrets: AtServerSecrets;
}

function secretFile(ref: SecretRef, target: string, mode: number): Record<string, unknown> {
  return {
    File: { Name: target, UID: ATSERVER_UID, GID: ATSERVER_UID, Mode: mode },
    SecretID: ref.id,
    SecretName: ref.name,
  };
}

/** The full ServiceSpec (POST /services/create, /services/{id}/update) of one atServer. */
export function atServerServiceSpec(i: AtServerSpecInput): Record<string, unknown> {
  const { atsign, swarm, placement } = i;
  const port = placement.port;
  const env = [
    `ATSERVER_ATSIGN=${withAt(atsign)}`,
    // The name our atServer reads (flag --at-sign); ATSERVER_ATSIGN is the documented one.
    `ATSERVER_AT_SIGN=${withAt(atsign)}`,
    `ATSERVER_PORT=${port}`,
    "ATSERVER_HOST=0.0.0.0",
    `ATSERVER_CERT=${CONTAINER.cert}`,
    `ATSERVER_KEY=${CONTAINER.key}`,
    `ATSERVER_STORAGE=${CONTAINER.storage}`,
    `ATSERVER_CRAM_SECRET_FILE=${CONTAINER.cram}`,
    `ATSERVER_ROOT=${i.rootAddress}`,
    `ATSERVER_METRICS_PORT=${ATSERVER_METRICS_PORT}`,
    "ATSERVER_METRICS_HOST=0.0.0.0",
  ];
  if (i.secrets.ca) env.push(`ATSERVER_CA=${CONTAINER.ca}`);
  const spec: Record<string, unknown> = {
    Name: serviceName(atsign),
    Labels: {
      [LABEL_ATSIGN]: atsign,
      [LABEL_KIND]: "atserver",
      [LABEL_SWARM]: swarm.name,
      [LABEL_HOST]: placement.host,
      [LABEL_PORT]: String(port),
      [LABEL_MEMORY]: String(i.memoryLimitMb),
      [LABEL_IMAGE]: i.image,
    },
    TaskTemplate: {
      ContainerSpec: {
        Image: i.image,
        Labels: { [LABEL_ATSIGN]: atsign, [LABEL_METRICS_PORT]: String(ATSERVER_METRICS_PORT) },
        Env: env,
        User: `${ATSERVER_UID}:${ATSERVER_UID}`,
        // The atServer writes only to its storage mount; nothing else in the container may change.
        ReadOnly: true,
        // The atServer closes its stores on SIGTERM; give it time before SIGKILL.
        StopSignal: "SIGTERM",
        StopGracePeriod: 30_000_000_000,
        Mounts: [
          {
            Type: "bind",
            Source: storageHostPath(swarm, atsign),
            Target: CONTAINER.storage,
            ReadOnly: false,
          },
        ],
        Secrets: [
          secretFile(i.secrets.cert, "atserver-tls.crt", 0o444),
          secretFile(i.secrets.key, "atserver-tls.key", 0o400),
          secretFile(i.secrets.cram, "atserver-cram", 0o400),
          ...(i.secrets.ca ? [secretFile(i.secrets.ca, "atserver-ca.pem", 0o444)] : []),
        ],
      },
      Resources: { Limits: { MemoryBytes: i.memoryLimitMb * 1024 * 1024 } },
      RestartPolicy: { Condition: "any", Delay: 5_000_000_000, MaxAttempts: 0, Window: 0 },
      Placement: { Constraints: swarm.constraints ?? ["node.role==worker"] },
    },
    Mode: { Replicated: { Replicas: 1 } },
    // Never two containers on one storage directory: stop the old task before the new one.
    // A new task that dies within the monitor window (or fails an image HEALTHCHECK) fails
    // the update; MaxFailureRatio 0: one replica, one failure is the whole service.
    UpdateConfig: {
      Parallelism: 1,
      Order: "stop-first",
      FailureAction: i.update.failureAction,
      Monitor: i.update.monitorMs * 1_000_000,
      MaxFailureRatio: 0,
    },
    RollbackConfig: {
      Parallelism: 1,
      Order: "stop-first",
      FailureAction: "pause",
      Monitor: i.update.monitorMs * 1_000_000,
    },
    EndpointSpec: {
      Mode: "vip",
      Ports: [
        {
          Protocol: "tcp",
          TargetPort: port,
          PublishedPort: port,
          PublishMode: swarm.publishMode ?? "ingress",
        },
      ],
    },
  };
  // The hash lets a later ensure tell "already as wanted" from "needs an update" without
  // comparing against the engine's defaulted copy of the spec.
  (spec.Labels as Record<string, string>)[LABEL_SPEC] = sha256(JSON.stringify(spec)).slice(0, 32);
  return spec;
}

const MKDIR_SCRIPT =
  'set -e; d="/atservers/$1"; mkdir -p "$d"; chown 1024:1024 "$d"; chmod 700 "$d"';
// Exit 3 tells the orchestrator there was nothing to archive.
const ARCHIVE_SCRIPT =
  'set -e; d="/atservers/$1"; [ -d "$d" ] || exit 3; mkdir -p /atservers/archive; ' +
  'printf "%s\\n" "$3" > "$d/atsign.txt"; mv "$d" "/atservers/$2"';

/** A one-shot job (ReplicatedJob, one completion) that works on the storage share. */
export function storageJobSpec(
  kind: "mkdir" | "archive",
  atsign: string,
  swarm: SwarmConfig,
  jobImage: string,
  args: string[],
): Record<string, unknown> {
  return {
    Name: jobName(kind, atsign),
    Labels: { [LABEL_ATSIGN]: atsign, [LABEL_KIND]: `storage-${kind}` },
    TaskTemplate: {
      ContainerSpec: {
        Image: jobImage,
        Command: [
          "/bin/sh",
          "-c",
          kind === "mkdir" ? MKDIR_SCRIPT : ARCHIVE_SCRIPT,
          `storage-${kind}`,
          ...args,
        ],
        Mounts: [
          { Type: "bind", Source: swarm.storageRoot, Target: "/atservers", ReadOnly: false },
        ],
      },
      RestartPolicy: { Condition: "none" },
      Placement: { Constraints: swarm.constraints ?? ["node.role==worker"] },
    },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
  };
}

export function labelFilter(atsign: string): string {
  return `${LABEL_ATSIGN}=${atsign}`;
}
