// Bytes of notifications each peer may send per minute: a fixed one-minute window per peer,
// the table bounded by dropping windows that have ended.
const WINDOW_MS = 60_000;
const MAX_PEERS = 10_000;

export class PeerRate {
  private readonly windows = new Map<string, { start: number; bytes: number }>();

  constructor(
    private readonly bytesPerMinute: () => number,
    private readonly now: () => number,
  ) {}

  /** Books `bytes` for `peer`; false (nothing booked) when that would pass the limit. */
  allow(peer: string, bytes: number): boolean {
    const t = this.now();
    let w = this.windows.get(peer);
    if (!w || t - w.start >= WINDOW_MS) {
      if (this.windows.size >= MAX_PEERS) this.prune(t);
      w = { start: t, bytes: 0 };
      this.windows.set(peer, w);
    }
    if (w.bytes + bytes > this.bytesPerMinute()) return false;
    w.bytes += bytes;
    return true;
  }

  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t - w.start >= WINDOW_MS) this.windows.delete(k);
  }
}
