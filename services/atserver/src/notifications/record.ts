// A notification as stored (sent, received) and its JSON shapes (Part B §3.15, §6.4).
import { formatDate, type MetadataInput } from "@atplatform/protocol/src/core";

export type NotificationType = "sent" | "received" | "self";
export type NotificationStatus = "queued" | "delivered" | "errored";

export interface NotificationRecord {
  id: string;
  type: NotificationType;
  from: string;
  to: string;
  /** `@bob:phone@alice`, `public:k@alice`, or `@bob:<text>` for text messages. */
  key: string;
  value: string | null;
  operation: "update" | "delete";
  messageType: "key" | "text";
  priority: string;
  strategy: string;
  latestN: number;
  notifier: string;
  ttln: number;
  metadata: MetadataInput;
  /** notificationDateTime (ms). */
  createdAt: number;
  expiresAt: number;
  status: NotificationStatus;
  retryCount: number;
  nextAttemptAt: number;
  lastError?: string;
}

const ENC = ["encKeyName", "encAlgo", "ivNonce", "skeEncKeyName", "skeEncAlgo"] as const;

/** The line pushed live to monitors. */
export function liveJson(n: NotificationRecord): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const a of ENC) metadata[a] = n.metadata[a] ?? null;
  metadata.sharedKeyEnc = n.metadata.sharedKeyEnc ?? null;
  return base(n, metadata);
}

/** Replayed (monitor with epoch) and notify:list entries. */
export function storedJson(n: NotificationRecord): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const a of ENC) metadata[a] = n.metadata[a] ?? null;
  metadata.availableAt = "null";
  metadata.expiresAt = formatDate(n.expiresAt);
  return base(n, metadata);
}

function base(n: NotificationRecord, metadata: Record<string, unknown>): Record<string, unknown> {
  return {
    id: n.id,
    from: n.from,
    to: n.to,
    key: n.key,
    value: n.value,
    operation: n.operation,
    epochMillis: n.createdAt,
    messageType: `MessageType.${n.messageType}`,
    isEncrypted: n.metadata.isEncrypted ?? false,
    metadata,
  };
}

/** Status as clients see it: `expired` once the notification's time has passed. */
export function visibleStatus(n: NotificationRecord, now: number): string {
  return now > n.expiresAt ? "expired" : n.status;
}

/** notify:fetch: every non-string value stringified (§3.15). */
export function fetchJson(n: NotificationRecord, now: number): Record<string, string | null> {
  const status = visibleStatus(n, now);
  const type = n.type === "self" ? "self" : n.type;
  return {
    id: n.id,
    fromAtSign: n.from,
    notificationDateTime: formatDate(n.createdAt),
    toAtSign: n.to,
    notification: n.key,
    type: `NotificationType.${type}`,
    opType: `OperationType.${n.operation}`,
    messageType: `MessageType.${n.messageType}`,
    priority: `NotificationPriority.${n.priority}`,
    notificationStatus: `NotificationStatus.${status}`,
    retryCount: String(Math.max(1, n.retryCount)),
    strategy: n.strategy,
    depth: String(n.latestN),
    notifier: n.notifier,
    expiresAt: formatDate(n.expiresAt),
    atValue: n.value,
    atMetadata: JSON.stringify(n.metadata),
    ttl: String(n.ttln),
  };
}
