// notify and its companions (Part B §3.12-3.17): sending, receiving from a peer, list,
// status, fetch, remove.
import {
  IllegalArgumentsError,
  InternalServerException,
  type NotificationIdParams,
  type NotifyAllParams,
  type NotifyListParams,
  type NotifyParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { VerbHandler } from "../engine/verb";
import { fetchJson, storedJson, visibleStatus } from "../notifications/record";
import type { NotificationService } from "../notifications/service";
import { safeRegex } from "../safe-regex";
import { authorize, authorizeUnscoped } from "../apkam/access";

function service(ctx: ServerContext): NotificationService {
  if (!ctx.notifications) throw new InternalServerException("notifications are not available");
  return ctx.notifications;
}

export const notify: VerbHandler<NotifyParams> = {
  access: ["A", "P"],
  unauthenticated: "Notify command cannot be executed without authentication",
  handle(ctx, s, p) {
    if (s.isOwner) {
      // A text message has no key, hence no namespace: `*` decides.
      if (p.messageType === "text") authorizeUnscoped(s, "send text notifications", true);
      else authorize(s, `${p.to}:${p.key}${p.from ?? ctx.atSign}`, "notify", true);
      return service(ctx).send(p);
    }
    return service(ctx).receive(s, p);
  },
};

export const notifyAll: VerbHandler<NotifyAllParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    const out: Record<string, string> = {};
    for (const to of p.to.split(",")) {
      out[to] = service(ctx).send({
        to,
        key: p.key,
        from: p.from,
        value: p.value,
        operation: p.operation,
        messageType: p.messageType,
        metadata: {
          ttl: p.ttl !== undefined ? Number(p.ttl) : undefined,
          ttb: p.ttb !== undefined ? Number(p.ttb) : undefined,
          ttr: p.ttr !== undefined ? Number(p.ttr) : undefined,
          ccd: p.ccd !== undefined ? p.ccd === "true" : undefined,
        },
      });
    }
    return ` ${JSON.stringify(out)}`;
  },
};

function day(text: string, end: boolean): number {
  const t = Date.parse(`${text}T00:00:00.000Z`);
  if (Number.isNaN(t)) throw new IllegalArgumentsError("Invalid date format");
  return end ? t + 86_400_000 - 1 : t;
}

export const notifyList: VerbHandler<NotifyListParams> = {
  access: ["U", "P", "A"],
  handle(ctx, s, p) {
    if (!s.isOwner && !s.polAtSign) return "null";
    const from = p.from ? day(p.from, false) : -Infinity;
    const to = p.to ? day(p.to, true) : Infinity;
    if (to < from) throw new IllegalArgumentsError("ToDate cannot be less than FromDate");
    const regex = p.regex !== undefined ? safeRegex(p.regex) : undefined;
    const now = ctx.now();
    const list = service(ctx)
      .store.all()
      .filter((n) => (s.isOwner ? n.type !== "sent" : n.type === "sent" && n.to === s.polAtSign))
      .filter((n) => n.expiresAt >= now && n.createdAt >= from && n.createdAt <= to)
      .filter((n) => !regex || regex.test(n.key) || regex.test(n.from.replace(/^@/, "")))
      .map((n) => storedJson(service(ctx).store.withValue(n)));
    return list.length === 0 ? "null" : JSON.stringify(list);
  },
};

export const notifyStatus: VerbHandler<NotificationIdParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    const n = ctx.notifications?.store.get(p.id);
    return n ? visibleStatus(n, ctx.now()) : "null";
  },
};

export const notifyFetch: VerbHandler<NotificationIdParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    const n = service(ctx).store.get(p.id);
    if (!n) return JSON.stringify({ id: p.id, notificationStatus: "NotificationStatus.expired" });
    return JSON.stringify(fetchJson(service(ctx).store.withValue(n), ctx.now()));
  },
};

export const notifyRemove: VerbHandler<NotificationIdParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    service(ctx).store.remove(p.id);
    return "success";
  },
};
