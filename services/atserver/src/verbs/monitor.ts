// monitor (Part B §3.18): flags the connection; no reply. Notifications from other atSigns
// (and epoch replay) arrive with federation (issue 5); stats notifications work now.
import type { MonitorParams } from "@atplatform/protocol/src/core";
import { NO_REPLY, type VerbHandler } from "../engine/verb";
import { safeRegex } from "../safe-regex";

export const monitor: VerbHandler<MonitorParams> = {
  access: ["A"],
  handle(_ctx, s, p) {
    const regex = safeRegex(p.regex ?? ".*");
    s.monitor = {
      regex,
      selfNotifications: p.selfNotifications === true,
      strict: p.strict === true,
    };
    return NO_REPLY;
  },
};
