// Notifications persist in the atSign's KeyStore under `private:` keys (never synced or
// scanned), indexed in memory by kind and id; the store drops them an hour after expiry.
// The index holds no values: a value has its own row, read on demand (`value()`), so memory
// does not grow with what peers send. The index is bounded: past `maxRecords` the oldest
// finished ones (delivered, received, expired, given up) are dropped, rows included;
// undelivered sent ones never are. Received notifications have a disk quota, per sender and
// in all: past it the oldest received ones make room (they were pushed to monitors already).
import type { KeyStore } from "../store";
import type { NotificationRecord } from "./record";

const PREFIX = "private:__notification.";
const VALUE_PREFIX = "private:__notificationvalue.";
const KEEP_AFTER_EXPIRY_MS = 3600_000;
export const DEFAULT_MAX_RECORDS = 100_000;
/** Charged to the quota per received record besides its bytes: its index entry's memory. */
export const ENTRY_OVERHEAD_BYTES = 1024;

type Kind = "sent" | "received";

function kindOf(n: NotificationRecord): Kind {
  return n.type === "sent" ? "sent" : "received";
}

/** Still to be delivered by the queue (while not expired). */
export function isPending(n: NotificationRecord): boolean {
  return n.type === "sent" && n.to !== "public" && n.status !== "delivered" && !n.abandoned;
}

export interface ReceivedQuota {
  perSenderBytes: number;
  totalBytes: number;
}

export class NotificationStore {
  private loaded?: Map<string, NotificationRecord>;
  /** Pending sent notifications by id (the queue's working set). */
  private readonly waiting = new Map<string, NotificationRecord>();
  /** Index size at which the next trim runs (hysteresis: trims are batched). */
  private trimAt: number;
  /** Quota charge of each received record (by index key), per sender, and in all. */
  private readonly charges = new Map<string, number>();
  private readonly bySender = new Map<string, number>();
  private receivedTotal = 0;

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => number,
    private readonly maxRecords = DEFAULT_MAX_RECORDS,
    private readonly quota: ReceivedQuota = { perSenderBytes: Infinity, totalBytes: Infinity },
  ) {
    this.trimAt = maxRecords;
  }

  /** Loaded on first use: an atServer that never sees a notification never scans for them. */
  private get index(): Map<string, NotificationRecord> {
    if (this.loaded) return this.loaded;
    const records: Array<{ n: NotificationRecord; bytes: number }> = [];
    const legacy: NotificationRecord[] = [];
    for (const key of this.store.keys({ regex: /^private:__notification\./ })) {
      const v = this.store.peek(key)?.value;
      if (!v) continue;
      try {
        const n = JSON.parse(v) as NotificationRecord;
        // Written before values had their own row: moved out below.
        if (n.value !== null && n.value !== undefined) legacy.push(n);
        else records.push({ n, bytes: v.length });
      } catch {
        // an unreadable record is skipped
      }
    }
    records.sort((a, b) => a.n.createdAt - b.n.createdAt);
    // Insertion order = age: the trim walks the map from its oldest end.
    this.loaded = new Map();
    for (const { n, bytes } of records) this.track(n, bytes);
    if (legacy.length > 0) {
      legacy.sort((a, b) => a.createdAt - b.createdAt);
      this.store.batch(() => {
        for (const n of legacy) this.write(n);
      });
    }
    this.trimIfFull();
    return this.loaded;
  }

  private storeKey(kind: Kind, id: string): string {
    return `${PREFIX}${kind}.${id}`;
  }

  private valueKey(kind: Kind, id: string): string {
    return `${VALUE_PREFIX}${kind}.${id}`;
  }

  get size(): number {
    return this.index.size;
  }

  /** Bytes charged to the received-notification quota: of one sender, or in all. */
  receivedBytes(from?: string): number {
    void this.index;
    return from === undefined ? this.receivedTotal : (this.bySender.get(from) ?? 0);
  }

  /** By id: the sent notification if there is one, else the received one (without value). */
  get(id: string): NotificationRecord | undefined {
    return this.index.get(`sent:${id}`) ?? this.index.get(`received:${id}`);
  }

  sent(id: string): NotificationRecord | undefined {
    return this.index.get(`sent:${id}`);
  }

  received(id: string): NotificationRecord | undefined {
    return this.index.get(`received:${id}`);
  }

  /** The record's value, read from its row (index entries carry none). */
  value(n: NotificationRecord): string | null {
    if (n.value !== null) return n.value;
    if (n.valueBytes === undefined) return null;
    return this.store.peek(this.valueKey(kindOf(n), n.id))?.value ?? null;
  }

  /** The record with its value. */
  withValue(n: NotificationRecord): NotificationRecord {
    return n.value !== null || n.valueBytes === undefined ? n : { ...n, value: this.value(n) };
  }

  /** Sent notifications the queue still has to deliver (expired ones included). */
  pending(): IterableIterator<NotificationRecord> {
    void this.index;
    return this.waiting.values();
  }

  get pendingCount(): number {
    void this.index;
    return this.waiting.size;
  }

  /** Durable on return. */
  save(n: NotificationRecord): void {
    this.store.batch(() => this.write(n));
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

  /**
   * Stores `n` (its value, if it carries one, in its own row) and indexes it without the
   * value. A received one first makes room under the quota.
   */
  private write(n: NotificationRecord): void {
    const kind = kindOf(n);
    const opts = { expiresAt: n.expiresAt + KEEP_AFTER_EXPIRY_MS, skipCommit: true };
    const entry: NotificationRecord = { ...n, value: null };
    if (n.value !== null) entry.valueBytes = Buffer.byteLength(n.value);
    const meta = JSON.stringify(entry);
    const bytes = meta.length + (entry.valueBytes ?? 0);
    if (kind === "received") this.makeRoom(n.from, bytes + ENTRY_OVERHEAD_BYTES, n.id);
    if (n.value !== null) this.store.put(this.valueKey(kind, n.id), n.value, {}, opts);
    this.store.put(this.storeKey(kind, n.id), meta, {}, opts);
    this.track(entry, bytes);
  }

  /** Indexes an entry (replacing one with the same id) and books its quota charge. */
  private track(entry: NotificationRecord, bytes: number): void {
    const kind = kindOf(entry);
    const k = `${kind}:${entry.id}`;
    this.uncharge(k, entry.from);
    this.index.set(k, entry);
    if (kind === "received") {
      const c = bytes + ENTRY_OVERHEAD_BYTES;
      this.charges.set(k, c);
      this.bySender.set(entry.from, (this.bySender.get(entry.from) ?? 0) + c);
      this.receivedTotal += c;
    }
    if (isPending(entry)) this.waiting.set(entry.id, entry);
    else if (kind === "sent") this.waiting.delete(entry.id);
  }

  private uncharge(k: string, from: string): void {
    const c = this.charges.get(k);
    if (c === undefined) return;
    this.charges.delete(k);
    const left = (this.bySender.get(from) ?? 0) - c;
    if (left > 0) this.bySender.set(from, left);
    else this.bySender.delete(from);
    this.receivedTotal -= c;
  }

  /** Removes an index entry (and, with `rows`, its rows). */
  private drop(k: string, rows: boolean): void {
    const n = this.loaded?.get(k);
    if (!n) return;
    this.loaded!.delete(k);
    this.uncharge(k, n.from);
    if (n.type === "sent") this.waiting.delete(n.id);
    if (rows) {
      const kind = kindOf(n);
      this.store.delete(this.storeKey(kind, n.id), { skipCommit: true });
      if (n.valueBytes !== undefined)
        this.store.delete(this.valueKey(kind, n.id), { skipCommit: true });
    }
  }

  /**
   * Drops the oldest received records until `charge` more fits the sender's and the total
   * quota, down to 90 % of each (so the scan runs once per tenth of the quota, not per save).
   */
  private makeRoom(from: string, charge: number, id: string): void {
    const { perSenderBytes, totalBytes } = this.quota;
    let mine = this.bySender.get(from) ?? 0;
    let total = this.receivedTotal;
    if (mine + charge <= perSenderBytes && total + charge <= totalBytes) return;
    const mineTarget = perSenderBytes * 0.9 - charge;
    const totalTarget = totalBytes * 0.9 - charge;
    const drop: string[] = [];
    for (const [k, n] of this.index) {
      if (mine <= mineTarget && total <= totalTarget) break;
      const c = this.charges.get(k);
      if (c === undefined || n.id === id) continue;
      const overTotal = total > totalTarget;
      if (n.from === from ? mine > mineTarget || overTotal : overTotal) {
        drop.push(k);
        total -= c;
        if (n.from === from) mine -= c;
      }
    }
    for (const k of drop) this.drop(k, true);
  }

  remove(id: string): void {
    this.store.batch(() => {
      for (const kind of ["sent", "received"] as const) this.drop(`${kind}:${id}`, true);
    });
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
        for (const k of drop) this.drop(k, true);
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

  /** Every live record, oldest first, without values (see `value()`). */
  all(): NotificationRecord[] {
    const cutoff = this.now() - KEEP_AFTER_EXPIRY_MS;
    const out: NotificationRecord[] = [];
    for (const [k, n] of this.index) {
      if (n.expiresAt < cutoff) this.drop(k, false);
      else out.push(n);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }
}
