// Notifications persist in the atSign's KeyStore under `private:` keys (never synced or
// scanned), indexed in memory by kind and id; the store drops them an hour after expiry.
// The index is bounded: past `maxRecords` the oldest finished ones (delivered, received,
// expired, given up) are dropped, rows included; undelivered sent ones never are.
import type { KeyStore } from "../store";
import type { NotificationRecord } from "./record";

const PREFIX = "private:__notification.";
const KEEP_AFTER_EXPIRY_MS = 3600_000;
export const DEFAULT_MAX_RECORDS = 100_000;

type Kind = "sent" | "received";

function kindOf(n: NotificationRecord): Kind {
  return n.type === "sent" ? "sent" : "received";
}

/** Still to be delivered by the queue (while not expired). */
export function isPending(n: NotificationRecord): boolean {
  return n.type === "sent" && n.to !== "public" && n.status !== "delivered" && !n.abandoned;
}

export class NotificationStore {
  private loaded?: Map<string, NotificationRecord>;
  /** Pending sent notifications by id (the queue's working set). */
  private readonly waiting = new Map<string, NotificationRecord>();
  /** Index size at which the next trim runs (hysteresis: trims are batched). */
  private trimAt: number;

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => number,
    private readonly maxRecords = DEFAULT_MAX_RECORDS,
  ) {
    this.trimAt = maxRecords;
  }

  /** Loaded on first use: an atServer that never sees a notification never scans for them. */
  private get index(): Map<string, NotificationRecord> {
    if (this.loaded) return this.loaded;
    const records: NotificationRecord[] = [];
    for (const key of this.store.keys({ regex: /^private:__notification\./ })) {
      const v = this.store.peek(key)?.value;
      if (!v) continue;
      try {
        records.push(JSON.parse(v) as NotificationRecord);
      } catch {
        // an unreadable record is skipped
      }
    }
    // Insertion order = age: the trim walks the map from its oldest end.
    records.sort((a, b) => a.createdAt - b.createdAt);
    this.loaded = new Map();
    for (const n of records) {
      this.loaded.set(`${kindOf(n)}:${n.id}`, n);
      if (isPending(n)) this.waiting.set(n.id, n);
    }
    this.trimIfFull();
    return this.loaded;
  }

  private storeKey(kind: Kind, id: string): string {
    return `${PREFIX}${kind}.${id}`;
  }

  get size(): number {
    return this.index.size;
  }

  /** By id: the sent notification if there is one, else the received one. */
  get(id: string): NotificationRecord | undefined {
    return this.index.get(`sent:${id}`) ?? this.index.get(`received:${id}`);
  }

  sent(id: string): NotificationRecord | undefined {
    return this.index.get(`sent:${id}`);
  }

  received(id: string): NotificationRecord | undefined {
    return this.index.get(`received:${id}`);
  }

  /** Sent notifications the queue still has to deliver (expired ones included). */
  pending(): IterableIterator<NotificationRecord> {
    void this.index;
    return this.waiting.values();
  }

  /** Durable on return. */
  save(n: NotificationRecord): void {
    this.write(n);
    this.trimIfFull();
  }

  /** Several records in one transaction (one fsync). */
  saveAll(list: NotificationRecord[]): void {
    if (list.length === 0) return;
    this.store.batch(() => {
      for (const n of list) this.write(n);
    });
    this.trimIfFull();
  }

  private write(n: NotificationRecord): void {
    const kind = kindOf(n);
    this.store.put(
      this.storeKey(kind, n.id),
      JSON.stringify(n),
      {},
      {
        expiresAt: n.expiresAt + KEEP_AFTER_EXPIRY_MS,
        skipCommit: true,
      },
    );
    this.index.set(`${kind}:${n.id}`, n);
    if (isPending(n)) this.waiting.set(n.id, n);
    else if (kind === "sent") this.waiting.delete(n.id);
  }

  remove(id: string): void {
    for (const kind of ["sent", "received"] as const) {
      if (this.index.delete(`${kind}:${id}`))
        this.store.delete(this.storeKey(kind, id), { skipCommit: true });
    }
    this.waiting.delete(id);
  }

  /**
   * Past the cap, drops the oldest records that are finished (not pending, or expired) down
   * to 90 % of it, rows included, in one transaction. If pending ones alone exceed the cap
   * they are all kept, and the next try waits until another 10 % arrived (no rescan per save).
   */
  private trimIfFull(): void {
    const index = this.loaded;
    if (!index || index.size <= this.trimAt) return;
    const target = Math.floor(this.maxRecords * 0.9);
    const now = this.now();
    const drop: string[] = [];
    let size = index.size;
    for (const [k, n] of index) {
      if (size <= target) break;
      if (isPending(n) && now <= n.expiresAt) continue;
      drop.push(k);
      size--;
    }
    if (drop.length > 0) {
      this.store.batch(() => {
        for (const k of drop) {
          const n = index.get(k)!;
          index.delete(k);
          if (n.type === "sent") this.waiting.delete(n.id);
          this.store.delete(this.storeKey(kindOf(n), n.id), { skipCommit: true });
        }
      });
    }
    this.trimAt =
      index.size <= this.maxRecords
        ? this.maxRecords
        : index.size + Math.ceil(this.maxRecords / 10);
  }

  /** Drops index entries an hour past expiry (their rows go with the key sweep). */
  prune(): { before: number; after: number } {
    if (!this.loaded) return { before: 0, after: 0 };
    const before = this.loaded.size;
    this.all();
    return { before, after: this.loaded.size };
  }

  all(): NotificationRecord[] {
    const cutoff = this.now() - KEEP_AFTER_EXPIRY_MS;
    const out: NotificationRecord[] = [];
    for (const [k, n] of this.index) {
      if (n.expiresAt < cutoff) {
        this.index.delete(k);
        if (n.type === "sent") this.waiting.delete(n.id);
      } else out.push(n);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }
}
