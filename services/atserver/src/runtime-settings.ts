// Settings `config:set|reset|print` may change at run time (testing mode only), with
// the reference's names and defaults.
import type { AtServerConfig } from "./config";

export class RuntimeSettings {
  private readonly defaults: Record<string, string>;
  private readonly values = new Map<string, string>();

  constructor(cfg: AtServerConfig) {
    this.defaults = {
      inboundMaxLimit: String(cfg.inboundMaxLimit),
      commitLogCompactionFrequencyMins: "18",
      accessLogCompactionFrequencyMins: "15",
      notificationKeyStoreCompactionFrequencyMins: "5",
      autoNotify: String(cfg.autoNotify),
      maxNotificationRetries: String(cfg.maxNotificationRetries),
      checkCertificateReload: "false",
      shouldReloadCertificates: "false",
      doCacheRefreshNow: "false",
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
