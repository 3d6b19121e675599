// monitor (Part B §3.18): flags the connection; no reply. Notifications from other atSigns
// arrive from the notification service; with an epoch, stored ones are replayed first.
import type { MonitorParams } from "@atplatform/protocol/src/core";
import { NO_REPLY, type VerbHandler } from "../engine/verb";
import { safeRegex } from "../safe-regex";

export const monitor: VerbHandler<MonitorParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    const regex = safeRegex(p.regex ?? ".*");
    s.monitor = {
      regex,
      selfNotifications: p.selfNotifications === true,
      strict: p.strict === true,
    };
    if (p.epoch !== undefined) ctx.notifications?.replay(s, Number(p.epoch));
    return NO_REPLY;
  },
};
