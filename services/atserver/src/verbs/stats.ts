// stats (Part B §3.19): a list of {"id","name","value"} joined by ", ".
import { statfsSync } from "node:fs";
import { formatDate, type StatsParams } from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { VerbHandler } from "../engine/verb";
import type { Session } from "../engine/session";
import { mayAccess } from "../apkam/access";
import { safeRegex } from "../safe-regex";
import type { JobName } from "../stats/usage";

const NAMES: Record<number, string> = {
  1: "activeInboundConnections",
  2: "activeOutboundConnections",
  3: "lastCommitID",
  4: "secondaryStorageSize",
  5: "topAtSigns",
  6: "topKeys",
  7: "secondaryServerVersion",
  8: "LastLoggedInDatetime",
  9: "diskSize",
  10: "LastPkam",
  11: "NotificationCount",
  12: "CommitLogCompactionStats",
  13: "AccessLogCompactionStats",
  14: "NotificationCompactionStats",
  15: "LatestCommitEntryOfEachKey",
};

/** Highest commit id among the keys this connection may see (regex, APKAM namespaces). */
function lastCommitId(ctx: ServerContext, s: Session, regex?: RegExp): string {
  if (!regex && !(s.auth === "apkam" && s.namespaces)) {
    const id = ctx.keys.store.lastCommitId();
    return id < 0 ? "null" : String(id);
  }
  let max = -1;
  for (const key of ctx.keys.store.keys({ regex })) {
    if (!mayAccess(s, key, false)) continue;
    const id = ctx.keys.store.peek(key)?.commitId ?? -1;
    if (id > max) max = id;
  }
  return max < 0 ? "null" : String(max);
}

/** Key names by last commit id, only those this connection may see (like scan). */
function latestCommitOfEachKey(ctx: ServerContext, s: Session, regex?: RegExp): string {
  const out: Record<string, [number, string]> = {};
  for (const key of ctx.keys.store.keys({ regex })) {
    if (!mayAccess(s, key, false)) continue;
    const id = ctx.keys.store.peek(key)?.commitId ?? -1;
    if (id >= 0) out[key] = [id, "*"];
  }
  return JSON.stringify(out);
}

function notificationCounts(ctx: ServerContext): string {
  const c = {
    total: 0,
    type: { sent: 0, received: 0 },
    status: { delivered: 0, failed: 0, queued: 0 },
    operations: { update: 0, delete: 0 },
    messageType: { key: 0, text: 0 },
    createdOn: ctx.startedAt,
  };
  for (const n of ctx.notifications?.store.all() ?? []) {
    c.total++;
    if (n.type === "sent") c.type.sent++;
    else c.type.received++;
    if (n.status === "delivered") c.status.delivered++;
    else if (n.status === "errored") c.status.failed++;
    else c.status.queued++;
    c.operations[n.operation]++;
    c.messageType[n.messageType]++;
  }
  return JSON.stringify(c);
}

/** The most looked-up keys, without those an APKAM connection may not see. */
function visibleCounts(s: Session, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([key]) => mayAccess(s, key, false)));
}

/** The job's last run as a JSON string; "{}" until it first ran. */
function jobRun(ctx: ServerContext, job: JobName): string {
  return JSON.stringify(ctx.usage.jobs.get(job) ?? {});
}

function value(ctx: ServerContext, s: Session, id: number, regex?: RegExp): unknown {
  switch (id) {
    case 1:
      return ctx.connections.inbound();
    case 2:
      return ctx.connections.outbound();
    case 3:
      return lastCommitId(ctx, s, regex);
    case 4:
      return ctx.keys.store.sizeOnDisk();
    case 5:
      return JSON.stringify(ctx.usage.topAtSigns());
    case 6:
      return JSON.stringify(visibleCounts(s, ctx.usage.topKeys()));
    case 7:
      return ctx.version;
    case 8:
      return ctx.facts.lastLoggedInAt ? formatDate(ctx.facts.lastLoggedInAt) : "null";
    case 9: {
      const fs = statfsSync(ctx.config.storage);
      return fs.blocks * fs.bsize;
    }
    case 10:
      return ctx.facts.lastPkamAt ? formatDate(ctx.facts.lastPkamAt) : "null";
    case 11:
      return notificationCounts(ctx);
    case 12:
      return jobRun(ctx, "commitLog");
    case 13:
      return jobRun(ctx, "accessLog");
    case 14:
      return jobRun(ctx, "notifications");
    case 15:
      return latestCommitOfEachKey(ctx, s, regex);
    default:
      return null;
  }
}

export const stats: VerbHandler<StatsParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    const ids = p.ids ? p.ids.split(",").map(Number) : Object.keys(NAMES).map(Number);
    const regex = p.regex !== undefined ? safeRegex(p.regex) : undefined;
    const items = ids
      .filter((id) => NAMES[id] !== undefined)
      .map((id) =>
        JSON.stringify({ id: String(id), name: NAMES[id], value: value(ctx, s, id, regex) }),
      );
    return ` [${items.join(", ")}]`;
  },
};
