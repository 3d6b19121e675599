// Notifications persist in the atSign's KeyStore under `private:` keys (never synced or
// scanned), indexed in memory by kind and id; the store drops them an hour after expiry.
import type { KeyStore } from "../store";
import type { NotificationRecord } from "./record";

const PREFIX = "private:__notification.";
const KEEP_AFTER_EXPIRY_MS = 3600_000;

type Kind = "sent" | "received";

function kindOf(n: NotificationRecord): Kind {
  return n.type === "sent" ? "sent" : "received";
}

export class NotificationStore {
  private loaded?: Map<string, NotificationRecord>;

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => number,
  ) {}

  /** Loaded on first use: an atServer that never sees a notification never scans for them. */
  private get index(): Map<string, NotificationRecord> {
    if (this.loaded) return this.loaded;
    this.loaded = new Map();
    for (const key of this.store.keys({ regex: /^private:__notification\./ })) {
      const v = this.store.peek(key)?.value;
      if (!v) continue;
      try {
        const n = JSON.parse(v) as NotificationRecord;
        this.loaded.set(`${kindOf(n)}:${n.id}`, n);
      } catch {
        // an unreadable record is skipped
      }
    }
    return this.loaded;
  }

  private storeKey(kind: Kind, id: string): string {
    return `${PREFIX}${kind}.${id}`;
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

  /** Durable on return. */
  save(n: NotificationRecord): void {
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
  }

  remove(id: string): void {
    for (const kind of ["sent", "received"] as const) {
      if (this.index.delete(`${kind}:${id}`))
        this.store.delete(this.storeKey(kind, id), { skipCommit: true });
    }
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
      if (n.expiresAt < cutoff) this.index.delete(k);
      else out.push(n);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }
}
