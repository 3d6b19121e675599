// Budgets for the onboarding APIs (issue 11, M4). Every call counts against the caller's IP
// and API key per minute; calls that reserve or activate an atSign also count per hour.
// In memory, per registrar process; 0 turns a budget off.
import { TooManyRequestsError } from "../errors";
import { sha256 } from "../secrets";

export interface ApiLimits {
  perIpPerMinute: number;
  perKeyPerMinute: number;
  /** Reservations and activations (get-atsign, activate-atsign, register-person, ...). */
  newPerIpPerHour: number;
  newPerKeyPerHour: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  perIpPerMinute: 60,
  perKeyPerMinute: 600,
  newPerIpPerHour: 30,
  newPerKeyPerHour: 1000,
};

/** Fixed-window counter per key; stale windows are dropped as the map grows. */
class WindowCounter {
  private readonly windows = new Map<string, { start: number; n: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one call; false if `key` is over its budget in the current window. */
  hit(key: string, now: number): boolean {
    if (this.limit <= 0) return true;
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      if (this.windows.size >= 10_000) this.prune(now);
      w = { start: now, n: 0 };
      this.windows.set(key, w);
    }
    w.n++;
    return w.n <= this.limit;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}

export class ApiRateLimiter {
  private readonly ipMinute: WindowCounter;
  private readonly keyMinute: WindowCounter;
  private readonly ipHour: WindowCounter;
  private readonly keyHour: WindowCounter;

  constructor(limits: ApiLimits) {
    this.ipMinute = new WindowCounter(limits.perIpPerMinute, 60_000);
    this.keyMinute = new WindowCounter(limits.perKeyPerMinute, 60_000);
    this.ipHour = new WindowCounter(limits.newPerIpPerHour, 3600_000);
    this.keyHour = new WindowCounter(limits.newPerKeyPerHour, 3600_000);
  }

  /** Throws TooManyRequestsError when the IP or the key is over a budget. */
  check(ip: string, apiKey: string | undefined, creates: boolean, now = Date.now()): void {
    const key = apiKey === undefined ? undefined : sha256(apiKey);
    let ok = this.ipMinute.hit(ip, now);
    if (key !== undefined) ok = this.keyMinute.hit(key, now) && ok;
    if (creates) {
      ok = this.ipHour.hit(ip, now) && ok;
      if (key !== undefined) ok = this.keyHour.hit(key, now) && ok;
    }
    if (!ok) throw new TooManyRequestsError();
  }
}
