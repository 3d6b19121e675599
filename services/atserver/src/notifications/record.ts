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
  /** Null in the store's index: the value is in its own row (`valueBytes` long). */
  value: string | null;
  valueBytes?: number;
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
  /** When it is due (again): creation, or after a failed attempt. */
  nextAttemptAt: number;
  lastError?: string;
  /** The queue gave up (retries used up, unknown recipient): errored for good. */
  abandoned?: boolean;
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

/**
 * notify:fetch (§3.15): the reference's AtNotification.toJson() with every non-string value
 * turned into text the way Dart's toString() does it: null → "null", numbers and booleans as
 * written, and atMetadata as the reference's 24-field metadata map rendered by Map.toString()
 * (`{createdBy: null, …, isEncrypted: true, …}`: no quotes, no escaping).
 */
export function fetchJson(n: NotificationRecord, now: number): Record<string, string> {
  const status = visibleStatus(n, now);
  return {
    id: n.id,
    fromAtSign: n.from,
    notificationDateTime: formatDate(n.createdAt),
    toAtSign: n.to,
    notification: n.key,
    type: `NotificationType.${n.type}`,
    opType: `OperationType.${n.operation}`,
    messageType: `MessageType.${n.messageType}`,
    priority: `NotificationPriority.${n.priority}`,
    notificationStatus: `NotificationStatus.${status}`,
    retryCount: String(Math.max(1, n.retryCount)),
    strategy: n.strategy,
    depth: String(n.latestN),
    notifier: n.notifier,
    expiresAt: formatDate(n.expiresAt),
    atValue: String(n.value),
    atMetadata: dartMapText(metadataMap(n)),
    ttl: String(n.ttln),
  };
}

/** The reference metadata map (AtMetaData.toJson order) of a notification. */
function metadataMap(n: NotificationRecord): Array<[string, unknown]> {
  const m = n.metadata;
  const at = (ms: number | undefined) =>
    ms !== undefined && ms > 0 ? formatDate(n.createdAt + ms) : null;
  return [
    ["createdBy", null],
    ["updatedBy", null],
    ["createdAt", formatDate(n.createdAt)],
    ["updatedAt", formatDate(n.createdAt)],
    ["availableAt", at(m.ttb)],
    ["expiresAt", at(m.ttl)],
    ["refreshAt", at(m.ttr)],
    ["status", null],
    ["version", null],
    ["ttl", m.ttl],
    ["ttb", m.ttb],
    ["ttr", m.ttr],
    ["ccd", m.ccd],
    ["isBinary", m.isBinary],
    ["isEncrypted", m.isEncrypted],
    ["dataSignature", m.dataSignature],
    ["sharedKeyEnc", m.sharedKeyEnc],
    ["pubKeyCS", m.pubKeyCS],
    ["encoding", m.encoding],
    ["encKeyName", m.encKeyName],
    ["encAlgo", m.encAlgo],
    ["ivNonce", m.ivNonce],
    ["skeEncKeyName", m.skeEncKeyName],
    ["skeEncAlgo", m.skeEncAlgo],
  ];
}

/** Dart's Map.toString(): `{k: v, k2: v2}`, absent values as null. */
export function dartMapText(entries: Array<[string, unknown]>): string {
  return `{${entries.map(([k, v]) => `${k}: ${v ?? "null"}`).join(", ")}}`;
}
