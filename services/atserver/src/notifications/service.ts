// Notifications: sending (notify verb and auto-notify of shared keys), receiving from a
// pol-authenticated peer (caching, exactly once), and showing them to monitors.
import { randomUUID } from "node:crypto";
import {
  InternalServerException,
  InvalidSyntaxError,
  normalizeAtSign,
  UnauthorizedError,
  type MetadataInput,
  type NotifyParams,
} from "@atplatform/protocol/src/core";
import type { CommitEvent } from "../context";
import type { KeyService } from "../data/key-service";
import type { MonitorHub } from "../engine/monitors";
import type { MonitorSubscription, Session } from "../engine/session";
import type { Logger } from "../logger";
import type { NotificationStore } from "./notification-store";
import type { PeerRate } from "./peer-rate";
import type { NotificationQueue } from "./queue";
import { liveJson, storedJson, type NotificationRecord } from "./record";

export interface NotificationServiceOptions {
  atSign: string;
  defaultTtlnMs: number;
  autoNotify(): boolean;
  now(): number;
  /** Bytes each peer may send per minute (absent: no limit). */
  peerRate?: PeerRate;
}

const CACHE_ATTRS = [
  "ttr",
  "ccd",
  "isBinary",
  "isEncrypted",
  "sharedKeyEnc",
  "pubKeyCS",
  "encoding",
  "encKeyName",
  "encAlgo",
  "ivNonce",
  "skeEncKeyName",
  "skeEncAlgo",
] as const;

export class NotificationService {
  constructor(
    private readonly opts: NotificationServiceOptions,
    readonly store: NotificationStore,
    private readonly keys: KeyService,
    private readonly monitors: MonitorHub,
    private readonly queue: NotificationQueue | undefined,
    private readonly log: Logger,
  ) {}

  /** The owner's `notify:` (§3.12). Returns the id. */
  send(p: NotifyParams): string {
    const me = this.opts.atSign;
    if (p.strategy === "latest" && !p.notifier) {
      throw new InvalidSyntaxError("For Strategy latest, notifier cannot be null");
    }
    if (p.from !== undefined && normalizeAtSign(p.from) !== me) {
      throw new UnauthorizedError(
        `${normalizeAtSign(p.from)} is not authorized to send notification as ${me}`,
      );
    }
    const messageType = p.messageType ?? "key";
    const to = p.to.toLowerCase() === "public" ? "public" : normalizeAtSign(p.to);
    let key: string;
    if (messageType === "text") key = `${to}:${p.key}`;
    else if (to === "public" || p.key.startsWith("public"))
      key = `${to === "public" ? "public:" : ""}${p.key}${me}`;
    else key = `${to}:${p.key}${me}`.toLowerCase();
    const metadata: MetadataInput = { ...(p.metadata ?? {}) };
    if (messageType === "key" && metadata.isEncrypted === undefined) {
      metadata.isEncrypted = !key.startsWith("public");
    }
    const now = this.opts.now();
    let id = p.id ?? randomUUID();
    // at_python reuses one id per process: a reused id gets a fresh one internally (its
    // notify:status keeps answering for the first notification with that id).
    if (this.store.get(id)) id = randomUUID();
    const ttln = p.ttln !== undefined ? Number(p.ttln) : this.opts.defaultTtlnMs;
    const base: NotificationRecord = {
      id,
      type: "sent",
      from: me,
      to,
      key,
      value: p.value ?? null,
      operation: p.operation ?? "update",
      messageType,
      priority: p.priority ?? "low",
      strategy: p.strategy ?? "all",
      latestN: p.latestN !== undefined ? Number(p.latestN) : 1,
      notifier: p.notifier ?? "SYSTEM",
      ttln,
      metadata,
      createdAt: now,
      expiresAt: now + ttln,
      status: "queued",
      retryCount: 0,
      nextAttemptAt: now,
    };
    if (to === me) {
      this.deliverLocally({ ...base, type: "received", status: "delivered", retryCount: 1 });
      return p.id ?? id;
    }
    if (base.strategy === "latest") this.dropOlder(base);
    this.store.save(base);
    this.queue?.kick();
    return p.id ?? id;
  }

  /**
   * strategy:latest keeps only the newest `latestN` undelivered per notifier and recipient
   * (§6: per notifier, whatever the key); strategy:all ones asked for every delivery.
   */
  private dropOlder(n: NotificationRecord): void {
    const same = [...this.store.pending()]
      .filter((o) => o.strategy === "latest" && o.to === n.to && o.notifier === n.notifier)
      .sort((a, b) => a.createdAt - b.createdAt);
    for (const o of same.slice(0, Math.max(0, same.length - n.latestN + 1)))
      this.store.remove(o.id);
  }

  /** A `notify:` from the peer `from` on its pol connection (§6.2). */
  receive(s: Session, p: NotifyParams): string {
    const from = s.polAtSign!;
    // A peer speaks only for itself: a key owned by anyone else would poison our cache of
    // that atSign's keys.
    if (p.from !== undefined && normalizeAtSign(p.from) !== from) {
      throw new UnauthorizedError(`notify: ${from} cannot notify keys of ${p.from}`);
    }
    const now = this.opts.now();
    const id = p.id ?? randomUUID();
    const existing = this.store.received(id);
    if (existing && existing.from === from) return "success"; // a retry: already delivered once
    // The reference answers a throttled request AT0011; the sender's queue retries later.
    if (
      this.opts.peerRate &&
      !this.opts.peerRate.allow(from, p.key.length + (p.value?.length ?? 0))
    )
      throw new InternalServerException(`notification rate limit of ${from} exceeded`);
    const messageType = p.messageType ?? "key";
    const to = p.to.toLowerCase() === "public" ? "public" : normalizeAtSign(p.to);
    let key: string;
    if (messageType === "text") key = `${to}:${p.key}`;
    else if (to === "public") key = `public:${p.key}${from}`;
    else key = `${to}:${p.key}${from}`.toLowerCase();
    const metadata: MetadataInput =
      messageType === "text"
        ? { isEncrypted: p.metadata?.isEncrypted ?? false }
        : { ...(p.metadata ?? {}) };
    const ttln = p.ttln !== undefined ? Number(p.ttln) : this.opts.defaultTtlnMs;
    const n: NotificationRecord = {
      id,
      type: "received",
      from,
      to: this.opts.atSign,
      key,
      value: p.value ?? null,
      operation: p.operation ?? "update",
      messageType,
      priority: p.priority ?? "low",
      strategy: p.strategy ?? "all",
      latestN: 1,
      notifier: p.notifier ?? "SYSTEM",
      ttln,
      metadata,
      createdAt: now,
      expiresAt: now + ttln,
      status: "delivered",
      retryCount: 1,
      nextAttemptAt: now,
    };
    if (messageType === "key") this.updateCache(n);
    this.deliverLocally(n);
    return "success";
  }

  /** Cached copies of the sender's key (§6.2): update with a ttr caches, delete honours ccd. */
  private updateCache(n: NotificationRecord): void {
    if (!n.key.startsWith(`${this.opts.atSign}:`)) return;
    const cacheKey = `cached:${n.key}`;
    if (n.operation === "delete") {
      const existing = this.keys.find(cacheKey);
      if (existing?.metadata.ccd === true) this.keys.delete(cacheKey);
      return;
    }
    const input: Record<string, unknown> = {};
    for (const a of CACHE_ATTRS) {
      const v = n.metadata[a];
      if (v !== undefined) input[a] = v;
    }
    if (n.value !== null && n.metadata.ttr !== undefined && n.metadata.ttr !== 0) {
      this.keys.put(cacheKey, n.value, input as MetadataInput, n.from);
    } else if (n.value === null && this.keys.find(cacheKey)) {
      this.keys.putMeta(cacheKey, input as MetadataInput, n.from);
    }
  }

  private deliverLocally(n: NotificationRecord): void {
    this.store.save(n);
    this.monitors.push(liveJson(n) as never, { self: n.type === "self" });
  }

  /** A notification of this server to its own monitors (`selfNotifications`), e.g. enrollments. */
  selfNotify(key: string, value: string): void {
    const now = this.opts.now();
    this.deliverLocally({
      id: randomUUID(),
      type: "self",
      from: this.opts.atSign,
      to: this.opts.atSign,
      key,
      value,
      operation: "update",
      messageType: "key",
      priority: "low",
      strategy: "all",
      latestN: 1,
      notifier: "SYSTEM",
      ttln: this.opts.defaultTtlnMs,
      metadata: { isEncrypted: false },
      createdAt: now,
      expiresAt: now + this.opts.defaultTtlnMs,
      status: "delivered",
      retryCount: 1,
      nextAttemptAt: now,
    });
  }

  /** Auto-notify: updates and deletes of `@bob:…@alice` keys notify bob (§3.5, §3.10). */
  onCommit(e: CommitEvent): void {
    if (!this.opts.autoNotify()) return;
    const m = /^(@[^:@\s]+):(.+)(@[^:@\s]+)$/.exec(e.key);
    if (!m || m[1] === this.opts.atSign || m[3] !== this.opts.atSign) return;
    const stored = e.operation === "update" ? this.keys.find(e.key) : undefined;
    const metadata: MetadataInput = {};
    if (stored) {
      for (const a of CACHE_ATTRS) {
        const v = stored.metadata[a];
        if (v !== undefined) (metadata as Record<string, unknown>)[a] = v;
      }
    }
    try {
      this.send({
        to: m[1]!,
        key: m[2]!,
        from: m[3],
        operation: e.operation,
        value: e.value ?? undefined,
        metadata,
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, key: e.key }, "auto-notify failed");
    }
  }

  /**
   * Subscribes `s` to `m` after replaying the received (and self) notifications newer than
   * `epoch`, oldest first. The replay waits for the client to read (values are read from the
   * store one at a time); what arrives meanwhile is replayed right after subscribing, before
   * any live line can come between.
   */
  async subscribe(s: Session, m: MonitorSubscription, epoch?: number): Promise<void> {
    if (epoch === undefined) {
      s.monitor = m;
      return;
    }
    const seen = new Set<string>();
    for (const n of this.replayable(m, epoch)) {
      seen.add(n.id);
      s.write?.(`notification: ${JSON.stringify(storedJson(this.store.withValue(n)))}\n`);
      await s.writable?.();
    }
    s.monitor = m;
    for (const n of this.replayable(m, epoch))
      if (!seen.has(n.id))
        s.write?.(`notification: ${JSON.stringify(storedJson(this.store.withValue(n)))}\n`);
  }

  private replayable(m: MonitorSubscription, epoch: number): NotificationRecord[] {
    const now = this.opts.now();
    return this.store.all().filter((n) => {
      if (n.type === "sent" || n.createdAt <= epoch || n.expiresAt < now) return false;
      if (n.type === "self" && !m.selfNotifications) return false;
      return m.regex.test(n.key) || m.regex.test(n.from.replace(/^@/, ""));
    });
  }
}
