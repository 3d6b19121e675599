// Delivery order of the outbound queue (Part B §6.1): a notification's `priority` moves it
// ahead of older, lower ones, but only by a bounded time, so nothing waits forever.
import type { NotificationRecord } from "./record";

export type Priority = "low" | "medium" | "high";

/** As the reference's NotificationPriority index: low 1, medium 2, high 3. */
const WEIGHT: Record<Priority, number> = { low: 1, medium: 2, high: 3 };

/**
 * Each priority level counts as having waited this much longer: a `high` notification goes
 * before `low` ones queued up to 2 × AGING_MS earlier, never before older ones.
 */
export const AGING_MS = 30_000;

export function weight(p: string): number {
  return WEIGHT[p as Priority] ?? 1;
}

/** One level lower after a failed attempt (low stays low). */
export function lowerPriority(p: string): Priority {
  if (p === "high") return "medium";
  return "low";
}

/**
 * The moment the notification counts as queued: when it last became due, moved earlier by
 * its priority. Smaller = more urgent.
 */
export function urgency(n: NotificationRecord): number {
  return n.nextAttemptAt - (weight(n.priority) - 1) * AGING_MS;
}

/** A recipient's due notifications, most urgent first (FIFO among equals). */
export function deliveryOrder(list: NotificationRecord[]): NotificationRecord[] {
  return list.sort((a, b) => urgency(a) - urgency(b) || a.createdAt - b.createdAt);
}

/**
 * Recipients in the order the worker serves them: the one whose most urgent notification is
 * most urgent first. Lists are sorted in place by deliveryOrder.
 */
export function recipientOrder(
  due: Map<string, NotificationRecord[]>,
): Array<[to: string, list: NotificationRecord[]]> {
  const out = [...due].map(([to, list]) => [to, deliveryOrder(list)] as [string, typeof list]);
  return out.sort((a, b) => urgency(a[1][0]!) - urgency(b[1][0]!));
}
