// Peers' signing public keys used to verify inbound `pol` (Part B §5.3 step 6), cached so a
// burst of handshakes from one peer fetches its key once. Bounded (oldest entry out first)
// and short-lived, so a rotated key is picked up within the TTL at the latest; a signature
// that fails against a cached key makes the caller fetch again once (see Federation).

export const PEER_KEY_TTL_MS = 10 * 60_000;
export const PEER_KEY_MAX = 1000;

export class PeerKeyCache {
  private readonly keys = new Map<string, { key: string; until: number }>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = PEER_KEY_TTL_MS,
    private readonly max = PEER_KEY_MAX,
  ) {}

  get(atSign: string): string | undefined {
    const hit = this.keys.get(atSign);
    if (!hit) return undefined;
    if (hit.until > this.now()) return hit.key;
    this.keys.delete(atSign);
    return undefined;
  }

  set(atSign: string, key: string): void {
    this.keys.delete(atSign); // re-inserted as the newest
    this.keys.set(atSign, { key, until: this.now() + this.ttlMs });
    while (this.keys.size > this.max) this.keys.delete(this.keys.keys().next().value!);
  }

  delete(atSign: string): void {
    this.keys.delete(atSign);
  }

  get size(): number {
    return this.keys.size;
  }
}
