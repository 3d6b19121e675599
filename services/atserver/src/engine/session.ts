// Per-connection protocol state: who is authenticated, the pending challenge, error format,
// monitor subscription.
import { randomUUID } from "node:crypto";
import type { DetailedPeerCertificate } from "node:tls";

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

export interface PeerCertificateInfo {
  subjectaltname?: string;
  /** The chain verified against the configured CAs (`--ca`, else the system store). */
  authorized: boolean;
  authorizationError?: string;
  /** The presented chain, kept only when OpenSSL objected to the certificate's purpose. */
  chain?: DetailedPeerCertificate;
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
  /** Failed cram/pkam attempts on this connection (closed at config.maxAuthFailures). */
  authFailures = 0;
  /** Enrollment requests on this connection (rate limit). */
  enrollRequests: number[] = [];
  /** The TLS client certificate, when one was presented, and whether its chain verified. */
  peerCertificate?: PeerCertificateInfo | undefined;

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
