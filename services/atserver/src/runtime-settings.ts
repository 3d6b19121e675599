// Settings `config:set|reset|print` may change at run time (testing mode only), with
// the reference's names and defaults. Only settings something here reads are accepted.
import type { AtServerConfig } from "./config";

/**
 * Reference settings this atServer has no use for (its housekeeping, certificate reload and
 * cache refresh run on their own schedules): refused rather than accepted and ignored.
 */
export const UNSUPPORTED_SETTINGS = new Set([
  "commitLogCompactionFrequencyMins",
  "accessLogCompactionFrequencyMins",
  "notificationKeyStoreCompactionFrequencyMins",
  "checkCertificateReload",
  "shouldReloadCertificates",
  "doCacheRefreshNow",
]);

const BOOLEANS = new Set(["autoNotify"]);

export class RuntimeSettings {
  private readonly defaults: Record<string, string>;
  private readonly values = new Map<string, string>();

  constructor(cfg: AtServerConfig) {
    this.defaults = {
      inboundMaxLimit: String(cfg.inboundMaxLimit),
      autoNotify: String(cfg.autoNotify),
      maxNotificationRetries: String(cfg.maxNotificationRetries),
      maxRequestsPerTimeFrame: "5",
      timeFrameInMills: "3600000",
    };
  }

  has(name: string): boolean {
    return name in this.defaults;
  }

  get(name: string): string {
    return this.values.get(name) ?? this.defaults[name]!;
  }

  /** Why `value` is no good for `name` (booleans and non-negative integers), or undefined. */
  invalid(name: string, value: string): string | undefined {
    if (BOOLEANS.has(name)) return /^(true|false)$/.test(value) ? undefined : "true or false";
    return /^\d{1,15}$/.test(value) ? undefined : "a non-negative integer";
  }

  set(name: string, value: string): void {
    this.values.set(name, value);
  }

  reset(name: string): void {
    this.values.delete(name);
  }

  int(name: string): number {
    return Number(this.get(name));
  }

  bool(name: string): boolean {
    return this.get(name) === "true";
  }
}
