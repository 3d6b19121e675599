// monitor (Part B §3.18): flags the connection; no reply. Notifications from other atSigns
// arrive from the notification service; with an epoch, stored ones are replayed first.
import type { MonitorParams } from "@atplatform/protocol/src/core";
import { NO_REPLY, type VerbHandler } from "../engine/verb";
import { safeRegex } from "../safe-regex";

export const monitor: VerbHandler<MonitorParams> = {
  access: ["A"],
  async handle(ctx, s, p) {
    const subscription = {
      regex: safeRegex(p.regex ?? ".*"),
      selfNotifications: p.selfNotifications === true,
      strict: p.strict === true,
    };
    if (ctx.notifications) {
      const epoch = p.epoch !== undefined ? Number(p.epoch) : undefined;
      await ctx.notifications.subscribe(s, subscription, epoch);
    } else s.monitor = subscription;
    return NO_REPLY;
  },
};
