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
}
