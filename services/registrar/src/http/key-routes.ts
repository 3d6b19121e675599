// Admin API of access keys: list (no key material), rotate (the new key is in this one
// answer, never stored or logged), retire the old ones.
import { BadRequestError } from "../errors";
import { KEY_KINDS, type KeyKind } from "../keys/access-keys";
import { requireAdmin } from "./auth";
import type { Ctx, Route } from "./context";
import { readJson, str } from "./request";
import { sendJson } from "./respond";

function kindOf(body: Record<string, unknown>): KeyKind {
  const kind = str(body, "kind") ?? "api";
  if (!KEY_KINDS.includes(kind as KeyKind))
    throw new BadRequestError('kind must be "api" or "admin"');
  return kind as KeyKind;
}

function listKeys(ctx: Ctx): void {
  requireAdmin(ctx);
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  sendJson(ctx.res, 200, {
    keys: ctx.settings.keys.list().map((k) => ({
      ...k,
      createdAt: iso(k.createdAt),
      expiresAt: iso(k.expiresAt),
      retiredAt: iso(k.retiredAt),
    })),
  });
}

async function keyAction(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const body = await readJson(ctx.req, ctx.settings.bodyLimit);
  const kind = kindOf(body);
  if (ctx.params.action === "retire") {
    sendJson(ctx.res, 200, { kind, retired: ctx.settings.keys.retireOld(kind) });
    return;
  }
  const raw = body.overlapSeconds;
  if (raw !== undefined && (typeof raw !== "number" || !Number.isInteger(raw)))
    throw new BadRequestError("overlapSeconds must be a whole number");
  const overlapMs = raw === undefined ? ctx.settings.keyOverlapMs : raw * 1000;
  const r = ctx.settings.keys.rotate(kind, overlapMs);
  sendJson(ctx.res, 201, {
    kind,
    id: r.id,
    key: r.key,
    oldKeysValidUntil: new Date(r.oldValidUntil).toISOString(),
  });
}

export const keyRoutes: Route[] = [
  { method: "GET", path: /^\/api\/admin\/keys\/?$/, handler: listKeys },
  { method: "POST", path: /^\/api\/admin\/keys\/(?<action>rotate|retire)$/, handler: keyAction },
];
