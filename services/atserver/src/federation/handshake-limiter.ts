// Caps inbound server-to-server handshakes (§5.3) per peer atSign and per IP: each `from:`
// by a peer costs a directory lookup and each `pol` a TLS connection plus key lookups.

const WINDOW_MS = 60_000;

export class HandshakeLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /**
   * Records one attempt for every key; false when any of them is over its limit. A key's
   * limit is `perMinute` times its weight (default 1).
   */
  allow(...keys: Array<string | [key: string, weight: number]>): boolean {
    const t = this.now();
    let ok = true;
    for (const entry of keys) {
      const [k, weight] = typeof entry === "string" ? [entry, 1] : entry;
      const list = (this.hits.get(k) ?? []).filter((x) => x > t - WINDOW_MS);
      if (list.length >= this.perMinute * weight) ok = false;
      else list.push(t);
      this.hits.set(k, list);
    }
    if (this.hits.size > 10_000) this.prune(t);
    return ok;
  }

  private prune(t: number): void {
    for (const [k, list] of this.hits)
      if (!list.some((x) => x > t - WINDOW_MS)) this.hits.delete(k);
  }
}
