// Per-connection protocol state: who is authenticated, the pending challenge, error format,
// monitor subscription.
import { randomUUID } from "node:crypto";

export type AuthKind = "none" | "cram" | "pkam" | "apkam";

export interface Challenge {
  /** `@alice` for own-atSign challenges, `@bob` for a peer's `from:` (pol). */
  atSign: string;
  /** The text the client signs / digests (without `data:`). */
  text: string;
  /** For peers: the uuid they must sign. */
  nonce: string;
  expiresAt: number;
}

export interface MonitorSubscription {
  regex: RegExp;
  selfNotifications: boolean;
  strict: boolean;
}

export class Session {
  /** `_<uuid>`, fixed for the connection (the reference's sessionId). */
  readonly id = `_${randomUUID()}`;
  auth: AuthKind = "none";
  /** Set when another atSign's server proved itself with `pol`. */
  polAtSign?: string;
  challenge?: Challenge;
  /** The client asked for JSON error lines (clientConfig version > 3.0.37). */
  jsonErrors = false;
  monitor?: MonitorSubscription;
  enrollmentId?: string;
  /** Namespaces of the APKAM enrollment this connection authenticated with. */
  namespaces?: Record<string, string>;
  /**
   * Set when this connection revoked its own enrollment (`enroll:revoke:force`): it is closed
   * after a delay and, until then, every command is answered AT0027.
   */
  revokedSelf = false;
  /** Enrollment requests on this connection (rate limit). */
  enrollRequests: number[] = [];
  /** PEM chain of the TLS client certificate, when one was presented. */
  peerCertificate?: { subject: string; subjectAltName?: string } | undefined;

  /** Writes to this connection outside a response (monitor replay). */
  write?: (text: string) => void;
  /** Resolves when the connection's unsent output is small again (replays wait on it). */
  writable?: () => Promise<void>;

  constructor(
    /** The server's own atSign. */
    readonly atSign: string,
    readonly remote: string,
  ) {}

  /** Authenticated as the owner (cram/pkam/apkam). */
  get isOwner(): boolean {
    return this.auth !== "none";
  }

  get prompt(): string {
    if (this.isOwner) return `${this.atSign}@`;
    if (this.polAtSign) return `${this.polAtSign}@`;
    return "@";
  }
}
