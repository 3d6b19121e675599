/** Lifecycle of one atSign. Provisioning walks requested → … → active. */
export type AtSignState =
  | "reserved"
  | "requested"
  | "allocated"
  | "atserver_started"
  | "healthy"
  | "directory_written"
  | "active"
  | "suspending"
  | "suspended"
  | "resetting"
  | "moving"
  | "deleting"
  | "deleted"
  /** Provisioning gave up (permanent error or too many attempts); `lastError` says why. */
  | "failed";

/** States that place an atServer; provisioning gives up in these, never while tearing down. */
export const PROVISIONING_STATES: readonly AtSignState[] = [
  "requested",
  "allocated",
  "atserver_started",
  "healthy",
  "directory_written",
  "resetting",
  "moving",
];

/** States the provisioner still has work to do in. */
export const PENDING_STATES: readonly AtSignState[] = [
  "requested",
  "allocated",
  "atserver_started",
  "healthy",
  "directory_written",
  "suspending",
  "resetting",
  "moving",
  "deleting",
];

export interface AtSignRecord {
  atsign: string;
  state: AtSignState;
  email: string | null;
  activationKey: string | null;
  cramSecret: string | null;
  swarm: string | null;
  port: number | null;
  host: string | null;
  moveTo: string | null;
  generation: number;
  attempts: number;
  lastError: string | null;
  memoryLimitMb: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Session {
  email: string;
  csrf: string;
  expiresAt: number;
}
