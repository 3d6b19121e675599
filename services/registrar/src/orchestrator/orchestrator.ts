/** Where one atSign's atServer runs: a swarm (a group of hosts) and a published port. */
export interface Placement {
  swarm: string;
  /** The host name or IP address clients dial; written to the directory as host:port. */
  host: string;
  port: number;
  /** Per-atSign resource override (the Swarm orchestrator defaults to 50 MB). */
  memoryLimitMb?: number;
}

export type AtServerStatus =
  | { state: "absent" }
  | { state: "stopped"; placement?: Placement }
  | { state: "running"; placement: Placement; pid?: number; restarts?: number }
  /** The atServer refused to start in a way a restart cannot fix (e.g. its configuration). */
  | { state: "failed"; error: string; placement?: Placement };

/**
 * Runs atServers. Every method is idempotent per atSign: calling `ensure` twice, or from two
 * registrars at once, must never produce two atServers for one atSign.
 */
export interface Orchestrator {
  readonly name: string;
  /**
   * `ensure` copes with a missing secret file, so the registrar deletes it once the secret
   * was handed out. Otherwise the file is kept (the database copy is cleared either way).
   */
  readonly startsWithoutSecret?: boolean;
  /**
   * Makes the atSign's atServer run at `placement` with its existing storage (created if
   * new). `secretFile` is a path to a file (mode 0600) holding the CRAM secret; it never
   * goes on a command line. With `startsWithoutSecret`, the file is absent once the secret
   * was handed out (the atServer imported it on its first start): start it without one then.
   */
  ensure(atsign: string, placement: Placement, secretFile: string): Promise<void>;
  inspect(atsign: string): Promise<AtServerStatus>;
  /** Stops the atServer and keeps its storage. */
  stop(atsign: string): Promise<void>;
  /** Stops the atServer and archives (never silently discards) its storage. */
  remove(atsign: string): Promise<{ archivedTo?: string }>;
  /** Stops the atServer at `from` and starts it at `to` with the same storage. */
  move(atsign: string, from: Placement, to: Placement, secretFile: string): Promise<void>;
  /** Sets up what the orchestrator runs besides atServers (called when the registrar starts). */
  prepare?(): Promise<void>;
  /** Optional veto for a port that is in use by something else (local machine). */
  portUsable?(swarm: string, port: number): Promise<boolean>;
  /** Releases what the orchestrator holds (stops local child processes). */
  close(): Promise<void>;
  /** Present when the orchestrator runs images that can be rolled (Swarm). */
  readonly rollouts?: ImageRollouts;
}

/** How one atServer's image update ended. */
export type ImageUpdateResult =
  | { outcome: "updated" }
  /** The orchestrator's own gate failed (task died in the monitor window, HEALTHCHECK): it rolled back. */
  | { outcome: "rolled_back"; reason: string }
  /** The update could not finish (engine error, paused update, timeout); the old image may still run. */
  | { outcome: "failed"; reason: string };

/**
 * Image roll-outs, for orchestrators that run images (Swarm). `ensure` never changes the
 * image of an existing atServer: only `updateImage` does, so a new configured image reaches
 * running atServers through a gated roll-out and not all at once on a registrar restart.
 */
export interface ImageRollouts {
  /** The configured image of each swarm (what new atServers get, and a roll-out's target). */
  targetImages(): Record<string, string>;
  /** The image each atSign's service is set to run, by atSign, with its swarm. */
  currentImages(): Promise<Map<string, { swarm: string; image: string }>>;
  /**
   * Moves the atSign's service to `image` under the orchestrator's update policy and waits
   * until the orchestrator has finished (or rolled back) the update. Idempotent: a service
   * already on `image` returns `updated` at once.
   */
  updateImage(
    atsign: string,
    placement: Placement,
    secretFile: string,
    image: string,
  ): Promise<ImageUpdateResult>;
  /** Puts the service back on `image` (the one it ran before), e.g. when a later probe failed. */
  revertImage(
    atsign: string,
    placement: Placement,
    secretFile: string,
    image: string,
  ): Promise<void>;
}

/** The same image, allowing for a digest the engine or a registry pinned on one side. */
export function sameImage(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}@`) || b.startsWith(`${a}@`);
}
