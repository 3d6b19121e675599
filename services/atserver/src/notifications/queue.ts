// The persisted outbound queue (Part B §6.1): each queued sent notification is forwarded
// over a pol connection to its recipient, retried with exponential back-off until it is
// acknowledged, its retries run out, or it expires. Order is kept per recipient.
import { verbs, type MetadataInput } from "@atplatform/protocol/src/core";
import type { Logger } from "../logger";
import type { OutboundPool } from "../federation/outbound";
import type { NotificationStore } from "./notification-store";
import type { NotificationRecord } from "./record";

const TICK_MS = 1000;
/** Notifications in flight per recipient connection. */
const PIPELINE = 64;
const MAX_BACKOFF_MS = 60_000;
const FORWARD_ATTRS = [
  "ttl",
  "ttb",
  "ttr",
  "ccd",
  "isEncrypted",
  "sharedKeyEnc",
  "pubKeyCS",
  "encKeyName",
  "encAlgo",
  "ivNonce",
  "skeEncKeyName",
  "skeEncAlgo",
] as const;

/** The line alice's server sends to bob's (grammar of `notify`, Part B §6.1). */
export function forwardLine(n: NotificationRecord): string {
  const metadata: MetadataInput = {};
  for (const a of FORWARD_ATTRS) {
    const v = n.metadata[a];
    if (v !== undefined) (metadata as Record<string, unknown>)[a] = v;
  }
  const m = /^(public|@[^:@\s]+):(.+?)(@[^:@\s]+)?$/.exec(n.key);
  if (!m) throw new Error(`notification key ${n.key} cannot be forwarded`);
  return verbs.notify.format({
    id: n.id,
    operation: n.operation,
    messageType: n.messageType,
    notifier: n.notifier,
    ttln: String(n.ttln),
    metadata,
    to: m[1]!,
    key: m[2]!,
    from: m[3],
    value: n.value ?? undefined,
  });
}

export interface QueueOptions {
  maxRetries(): number;
  now(): number;
}

export class NotificationQueue {
  private readonly timer: NodeJS.Timeout;
  private readonly busy = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: NotificationStore,
    private readonly outbound: OutboundPool,
    private readonly opts: QueueOptions,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
  }

  /** Work through everything that is due now (called on enqueue and every tick). */
  kick(): void {
    if (this.stopped) return;
    const now = this.opts.now();
    const pending = new Map<string, NotificationRecord[]>();
    for (const n of this.store.all()) {
      if (n.type !== "sent" || n.status === "delivered" || n.to === "public") continue;
      if (n.status === "errored" && n.retryCount >= this.opts.maxRetries()) continue;
      if (now > n.expiresAt) continue;
      const list = pending.get(n.to) ?? [];
      list.push(n);
      pending.set(n.to, list);
    }
    for (const [to, list] of pending) {
      // Per recipient, oldest first; a recipient in back-off waits as a whole (keeps order).
      if (this.busy.has(to) || list[0]!.nextAttemptAt > now) continue;
      this.busy.add(to);
      this.deliver(to, list)
        .catch((err: Error) =>
          this.log.error({ to, err: err.message }, "notification delivery failed"),
        )
        .finally(() => this.busy.delete(to));
    }
  }

  /** Retry a recipient now (e.g. it just came back). */
  retryNow(to: string): void {
    for (const n of this.store.all()) if (n.type === "sent" && n.to === to) n.nextAttemptAt = 0;
    this.kick();
  }

  /** Sends a recipient's due notifications pipelined on one pol connection, in order. */
  private async deliver(to: string, list: NotificationRecord[]): Promise<void> {
    let c;
    try {
      c = await this.outbound.polClient(to);
    } catch (err) {
      this.failed(list[0]!, err as Error);
      return;
    }
    const batch = list.slice(0, PIPELINE);
    const replies = batch.map((n) => {
      let line: string;
      try {
        line = forwardLine(n);
      } catch (err) {
        return Promise.resolve({ ok: false, reply: (err as Error).message });
      }
      return c.send(line).then(
        (reply) => ({ ok: reply.startsWith("data:success"), reply }),
        (err: Error) => ({ ok: false, reply: err.message }),
      );
    });
    for (let i = 0; i < batch.length; i++) {
      const n = batch[i]!;
      const r = await replies[i]!;
      if (this.stopped) return;
      if (!r.ok) {
        this.failed(n, new Error(r.reply));
        // The peer refused this one: the rest may go on. A broken connection stops the batch.
        if (r.reply.startsWith("error:")) continue;
        return;
      }
      n.status = "delivered";
      n.retryCount += 1;
      this.store.save(n);
    }
    // More may have been queued meanwhile.
    setImmediate(() => this.kick());
  }

  private failed(n: NotificationRecord, err: Error): void {
    n.status = "errored";
    n.retryCount += 1;
    n.lastError = err.message;
    n.nextAttemptAt =
      this.opts.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(n.retryCount, 10));
    this.store.save(n);
    this.log.debug(
      { to: n.to, id: n.id, retry: n.retryCount, err: n.lastError },
      "notification not delivered",
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
