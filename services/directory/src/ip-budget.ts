// Anti-enumeration across connections: each client IP may receive a limited number of
// unknown (`null`) answers per window. A token bucket per IP, refilled continuously;
// idle buckets are swept so the map stays small. Exempt addresses (monitoring, the
// registrar) are never counted.
import { AddressList } from "./address-list";

interface Bucket {
  tokens: number;
  at: number;
}

export class IpMissBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper?: NodeJS.Timeout;
  private readonly exempt: AddressList;

  constructor(
    private readonly budget: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    exempt: readonly string[] = [],
  ) {
    this.exempt = new AddressList(exempt);
    if (budget > 0) {
      this.sweeper = setInterval(() => this.sweep(), windowMs);
      this.sweeper.unref();
    }
  }

  /** Spends one unknown answer for `ip`; false when the budget is exhausted. */
  take(ip: string): boolean {
    if (this.budget <= 0 || this.exempt.contains(ip)) return true;
    const bucket = this.refill(ip);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.buckets.clear();
  }

  private refill(ip: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      bucket = { tokens: this.budget, at: now };
      this.buckets.set(ip, bucket);
      return bucket;
    }
    const rate = this.budget / this.windowMs;
    bucket.tokens = Math.min(this.budget, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    return bucket;
  }

  private sweep(): void {
    const now = this.now();
    for (const [ip, b] of this.buckets) {
      if (now - b.at >= this.windowMs) this.buckets.delete(ip);
    }
  }
}
