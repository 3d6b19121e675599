// The persisted outbound queue (Part B §6.1). The worker runs on enqueue, when something
// becomes due and every `jobMs`; it serves recipients by urgency (schedule.ts) and forwards
// each recipient's due notifications pipelined on one pol connection. A notification the
// recipient refuses (an error reply) is `errored`, its retryCount rises and its priority
// drops; it is tried again after `jobMs` until `maxRetries` attempts, then given up.
// When the recipient cannot be reached (connect or handshake failure, no answer within the
// connection's 10 s command timeout, connection dropped) the recipient is quarantined:
// `quarantineMs` (reference: 10 s), doubling with each consecutive failure up to
// MAX_QUARANTINE_MS; its notifications are `errored` meanwhile but use no attempt, so an
// atServer that is down or being moved for an hour still gets them when it is back, until
// they expire (ttln). An atSign the directory does not know ends errored at once.
import {
  AtServerNotFoundError,
  OutboundLimitError,
  verbs,
  type MetadataInput,
} from "@atplatform/protocol/src/core";
import type { Logger } from "../logger";
import type { NotificationStore } from "./notification-store";
import type { NotificationRecord } from "./record";
import { lowerPriority, recipientOrder } from "./schedule";

/** Notifications in flight per recipient connection. */
const PIPELINE = 64;
/** Recipients served at the same time. */
const DEFAULT_CONCURRENCY = 32;
/** The longest a repeatedly unreachable recipient is left alone. */
export const MAX_QUARANTINE_MS = 5 * 60_000;
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

/** A pol-authenticated connection to a recipient's atServer (`AtClient` in production). */
export interface PeerLink {
  send(line: string): Promise<string>;
}

export interface PeerConnector {
  polClient(atSign: string): Promise<PeerLink>;
}

export interface QueueOptions {
  maxRetries(): number;
  now(): number;
  /** A recipient whose connection failed is left alone this long (reference: 10 s). */
  quarantineMs: number;
  /** Periodic run, and the wait before retrying a refused notification (reference: 11 s). */
  jobMs: number;
  concurrency?: number;
}

export class NotificationQueue {
  private readonly timer: NodeJS.Timeout;
  private readonly busy = new Set<string>();
  private readonly quarantined = new Map<string, number>();
  /** Consecutive connection failures per recipient (the quarantine doubles with each). */
  private readonly unreachable = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private wake?: { at: number; timer: NodeJS.Timeout };
  private scheduled = false;
  private stopped = false;
  /** Set by the metrics: a notification was delivered this long after it was created. */
  onDelivered?: (ms: number) => void;

  constructor(
    private readonly store: NotificationStore,
    private readonly peers: PeerConnector,
    private readonly opts: QueueOptions,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.kick(), opts.jobMs);
    this.timer.unref();
  }

  /** Runs the worker soon (once for all calls in the same event-loop turn). */
  kick(): void {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  /** Until the worker has nothing scheduled or in flight (tests). */
  async idle(): Promise<void> {
    while (this.scheduled || this.inFlight.size > 0) {
      if (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** The end of `atSign`'s quarantine, if it is in one. */
  quarantinedUntil(atSign: string): number | undefined {
    const until = this.quarantined.get(atSign);
    return until !== undefined && until > this.opts.now() ? until : undefined;
  }

  private run(): void {
    if (this.stopped) return;
    const now = this.opts.now();
    const due = new Map<string, NotificationRecord[]>();
    let next = Infinity;
    for (const n of this.store.pending()) {
      if (now > n.expiresAt) continue;
      if (n.status === "errored" && n.retryCount >= this.opts.maxRetries()) {
        n.abandoned = true; // e.g. maxNotificationRetries was lowered meanwhile
        this.store.save(n);
        continue;
      }
      const q = this.quarantined.get(n.to) ?? 0;
      const ready = Math.max(n.nextAttemptAt, q);
      if (ready > now) {
        next = Math.min(next, ready);
        continue;
      }
      if (this.busy.has(n.to)) continue;
      const list = due.get(n.to);
      if (list) list.push(n);
      else due.set(n.to, [n]);
    }
    const limit = this.opts.concurrency ?? DEFAULT_CONCURRENCY;
    for (const [to, list] of recipientOrder(due)) {
      if (this.busy.size >= limit) break;
      this.busy.add(to);
      const p = this.deliver(to, list)
        .catch((err: Error) =>
          this.log.error({ to, err: err.message }, "notification delivery failed"),
        )
        .finally(() => {
          this.busy.delete(to);
          this.inFlight.delete(p);
          this.kick(); // more may be due or queued meanwhile
        });
      this.inFlight.add(p);
    }
    this.wakeAt(next);
  }

  /** A timer for the next moment something becomes due (quarantine end, retry). */
  private wakeAt(at: number): void {
    if (at === Infinity || (this.wake && this.wake.at <= at && this.wake.at > this.opts.now()))
      return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(
      () => {
        this.wake = undefined;
        this.kick();
      },
      Math.max(0, at - this.opts.now()) + 5,
    );
    timer.unref();
    this.wake = { at, timer };
  }

  /** Sends a recipient's most urgent due notifications pipelined on one pol connection. */
  private async deliver(to: string, list: NotificationRecord[]): Promise<void> {
    const batch = list.slice(0, PIPELINE);
    let link: PeerLink;
    try {
      link = await this.peers.polClient(to);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof AtServerNotFoundError) {
        for (const n of list) this.giveUp(n, (err as Error).message);
        this.store.saveAll(list);
        return;
      }
      if (err instanceof OutboundLimitError) {
        // Our own connection cap, not the recipient's fault: try again later, no attempt used.
        for (const n of batch) n.nextAttemptAt = this.opts.now() + this.opts.jobMs;
        this.store.saveAll(batch);
        return;
      }
      const until = this.quarantine(to, err as Error);
      for (const n of batch) this.waitForRecipient(n, (err as Error).message, until);
      this.store.saveAll(batch);
      return;
    }
    this.unreachable.delete(to);
    const replies = batch.map((n) => {
      let line: string;
      try {
        line = forwardLine(this.store.withValue(n));
      } catch (err) {
        return Promise.resolve({ unsendable: (err as Error).message });
      }
      return link.send(line).then(
        (reply) => ({ reply }),
        (err: Error) => ({ broken: err }),
      );
    });
    let broken: number | undefined;
    for (let i = 0; i < batch.length; i++) {
      const n = batch[i]!;
      const r = await replies[i]!;
      if (this.stopped) return;
      if ("unsendable" in r) this.giveUp(n, r.unsendable);
      else if ("broken" in r) {
        broken ??= this.quarantine(to, r.broken);
        this.waitForRecipient(n, r.broken.message, broken);
      } else if (r.reply.startsWith("data:success")) {
        n.status = "delivered";
        n.retryCount += 1;
        delete n.lastError;
        this.onDelivered?.(this.opts.now() - n.createdAt);
      } else this.failed(n, r.reply, this.opts.now() + this.opts.jobMs);
    }
    this.store.saveAll(batch);
  }

  /** Returns the end of the recipient's quarantine. */
  private quarantine(to: string, err: Error): number {
    const failures = (this.unreachable.get(to) ?? 0) + 1;
    this.unreachable.set(to, failures);
    const ms = Math.min(
      this.opts.quarantineMs * 2 ** Math.min(failures - 1, 20),
      MAX_QUARANTINE_MS,
    );
    const until = this.opts.now() + ms;
    this.quarantined.set(to, until);
    if (this.quarantined.size > 10_000) {
      const now = this.opts.now();
      for (const [k, u] of this.quarantined) {
        if (u <= now - MAX_QUARANTINE_MS) {
          this.quarantined.delete(k);
          this.unreachable.delete(k);
        }
      }
    }
    this.log.debug({ to, err: err.message, ms }, "recipient quarantined");
    return until;
  }

  /** The recipient was unreachable: errored until it is tried again, no attempt used. */
  private waitForRecipient(n: NotificationRecord, reason: string, retryAt: number): void {
    n.status = "errored";
    n.lastError = reason;
    n.nextAttemptAt = retryAt;
    this.log.debug({ to: n.to, id: n.id, err: reason }, "recipient unreachable");
  }

  /**
   * One failed attempt: errored and due again at `retryAt` (the next job run after a refusal,
   * the end of the quarantine after a connection failure) at a lower priority, or given up.
   */
  private failed(n: NotificationRecord, reason: string, retryAt: number): void {
    n.status = "errored";
    n.retryCount += 1;
    n.lastError = reason;
    n.priority = lowerPriority(n.priority);
    n.nextAttemptAt = retryAt;
    if (n.retryCount >= this.opts.maxRetries()) n.abandoned = true;
    this.log.debug(
      { to: n.to, id: n.id, retry: n.retryCount, err: reason },
      "notification not delivered",
    );
  }

  private giveUp(n: NotificationRecord, reason: string): void {
    n.status = "errored";
    n.retryCount += 1;
    n.lastError = reason;
    n.abandoned = true;
    this.log.debug({ to: n.to, id: n.id, err: reason }, "notification given up");
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.wake) clearTimeout(this.wake.timer);
  }
}
