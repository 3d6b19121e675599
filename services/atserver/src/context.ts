// The collaborators every verb handler may use, passed explicitly (no singletons).
import type { EventEmitter } from "node:events";
import type { AtServerConfig } from "./config";
import type { KeyService } from "./data/key-service";
import type { WriteBatcher } from "./data/write-batcher";
import type { Loggers } from "./logger";
import type { Session } from "./engine/session";
import type { RuntimeSettings } from "./runtime-settings";
import type { NotificationService } from "./notifications/service";
import type { Enrollments } from "./apkam/enrollments";
import type { Usage } from "./stats/usage";
import type { MetricsHooks } from "./metrics/hooks";

/** Cross-server operations (issue 5). Absent until federation is wired in. */
export interface Peers {
  /** `lookup` of another atSign's key on behalf of the owner; answers in the owner's op form. */
  lookup(session: Session, req: RemoteLookup): Promise<string>;
  /** `plookup` of another atSign's public key. */
  plookup(session: Session, req: RemoteLookup): Promise<string>;
  /** Verifies a peer that sent `from:@bob` + `pol`; resolves when it proved itself. */
  verifyPol(session: Session): Promise<void>;
  /** Relays `scan` to another atSign's server. */
  scan(atSign: string, regex?: string): Promise<string>;
  /** `from:@bob` by a peer: throws unless its TLS client certificate names bob's host. */
  checkPeerCertificate(session: Session, atSign: string): Promise<void>;
}

export interface RemoteLookup {
  key: string;
  owner: string;
  op?: "meta" | "all";
  bypassCache: boolean;
}

/** Events inside one atServer; federation and monitors subscribe. */
export interface CommitEvent {
  key: string;
  operation: "update" | "delete";
  commitId: number;
  value: string | null;
}

export interface ConnectionStats {
  inbound(): number;
  outbound(): number;
}

export interface ServerContext {
  atSign: string;
  config: AtServerConfig;
  keys: KeyService;
  /** Group commit for acknowledged writes (update, update:meta, delete). */
  writes: WriteBatcher;
  log: Loggers;
  now(): number;
  startedAt: number;
  version: string;
  runtime: RuntimeSettings;
  connections: ConnectionStats;
  /** Emits "commit" (CommitEvent) after every successful update/delete. */
  events: EventEmitter;
  /** Facts for `stats`. */
  facts: { lastLoggedInAt?: number; lastPkamAt?: number };
  /** Lookup counters and housekeeping runs for `stats` 5, 6, 12-14. */
  usage: Usage;
  peers?: Peers;
  notifications?: NotificationService;
  enrollments?: Enrollments;
  /** Set when the metrics endpoint is on (--metrics-port). */
  metrics?: MetricsHooks;
}
