// The JSON APIs the official onboarding tools call (atprotocol.md Part C), the admin API
// and a health endpoint.
import { withAt } from "../atsign";
import { BadRequestError } from "../errors";
import type { AtSignRecord } from "../store/types";
import { requireAdmin, requireApiKey } from "./auth";
import type { Ctx, Route } from "./context";
import { bool, readJson, str } from "./request";
import { sendJson } from "./respond";

function publicRecord(rec: AtSignRecord): Record<string, unknown> {
  return {
    atSign: withAt(rec.atsign),
    state: rec.state,
    email: rec.email,
    swarm: rec.swarm,
    host: rec.host,
    port: rec.port,
    lastError: rec.lastError,
    attempts: rec.attempts,
    memoryLimitMb: rec.memoryLimitMb,
    createdAt: new Date(rec.createdAt).toISOString(),
    updatedAt: new Date(rec.updatedAt).toISOString(),
  };
}

async function v3GetAtSign(ctx: Ctx): Promise<void> {
  requireApiKey(ctx, true);
  const atSign = ctx.url.searchParams.get("atSign") || undefined;
  const key = ctx.url.searchParams.get("ActivationKey") || undefined;
  const r = ctx.service.reserveWithKey(atSign, key);
  sendJson(ctx.res, 200, { value: { atSign: withAt(r.atsign), ActivationKey: r.activationKey } });
}

async function v3Activate(ctx: Ctx): Promise<void> {
  requireApiKey(ctx, true);
  const body = await readJson(ctx.req, ctx.settings.bodyLimit);
  const r = await ctx.service.activateWithKey(str(body, "atSign"), str(body, "ActivationKey"));
  sendJson(ctx.res, 200, { status: "success", cramkey: `${withAt(r.atsign)}:${r.cram}` });
}

async function v2GetFree(ctx: Ctx): Promise<void> {
  requireApiKey(ctx);
  sendJson(ctx.res, 200, { data: { atsign: withAt(ctx.service.suggestFreeAtSign()) } });
}

async function v2Register(ctx: Ctx): Promise<void> {
  requireApiKey(ctx, true);
  const body = await readJson(ctx.req, ctx.settings.bodyLimit);
  const atsign = await ctx.service.startRegistration(str(body, "email"), str(body, "atsign"));
  sendJson(ctx.res, 200, {
    message: `Sent Successfully: a one-time code for ${withAt(atsign)} is on its way`,
  });
}

async function v2Validate(ctx: Ctx): Promise<void> {
  requireApiKey(ctx, true);
  const body = await readJson(ctx.req, ctx.settings.bodyLimit);
  const r = await ctx.service.verifyRegistration(
    str(body, "email"),
    str(body, "atsign"),
    str(body, "otp"),
    bool(body, "confirmation"),
    true,
  );
  if (r.kind === "retry") sendJson(ctx.res, 200, { message: "Invalid code. Try again" });
  else if (r.kind === "confirm")
    sendJson(ctx.res, 200, {
      message: `This email already has ${r.existing.map(withAt).join(", ")}; confirm to add ${withAt(r.atsign)}`,
      newAtsign: withAt(r.atsign),
    });
  else
    sendJson(ctx.res, 200, { message: "Verified", cramkey: `${withAt(r.atsign)}:${r.cramSecret}` });
}

function adminList(ctx: Ctx): void {
  requireAdmin(ctx);
  sendJson(ctx.res, 200, { atsigns: ctx.service.store.list().map(publicRecord) });
}

async function adminGet(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const rec = ctx.service.get(ctx.params.atsign);
  const atServer = await ctx.service.provisioner.inspect(rec.atsign).catch((err: Error) => ({
    state: "unknown",
    error: err.message,
  }));
  sendJson(ctx.res, 200, {
    ...publicRecord(rec),
    atServer,
    events: ctx.service.store.events(rec.atsign).map((e) => ({
      at: new Date(e.at).toISOString(),
      kind: e.kind,
      detail: e.detail,
    })),
  });
}

async function adminAction(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const body =
    Number(ctx.req.headers["content-length"] ?? 0) > 0
      ? await readJson(ctx.req, ctx.settings.bodyLimit)
      : {};
  const rec = ctx.service.get(ctx.params.atsign);
  switch (ctx.params.action) {
    case "suspend":
      ctx.service.suspend(rec);
      break;
    case "resume":
      ctx.service.resume(rec);
      break;
    case "reset":
      ctx.service.reset(rec);
      break;
    case "delete":
      ctx.service.delete(rec);
      break;
    case "memory": {
      const raw = body.memoryLimitMb;
      await ctx.service.setMemoryLimit(rec, raw === undefined || raw === "" ? null : Number(raw));
      break;
    }
    case "move": {
      const swarm = str(body, "swarm");
      if (!swarm) throw new BadRequestError("move needs a swarm");
      ctx.service.move(rec, swarm, ctx.settings.swarms);
      break;
    }
    default:
      throw new BadRequestError("unknown action");
  }
  sendJson(ctx.res, 202, publicRecord(ctx.service.store.get(rec.atsign)!));
}

/** Counts by state: for operators and `atplatform status`, not for probes. */
function status(ctx: Ctx): void {
  sendJson(ctx.res, 200, { status: "ok", atsigns: ctx.service.store.countByState() });
}

/** The kubelet's probe: constant cost however many atSigns there are. */
function health(ctx: Ctx): void {
  ctx.service.store.ping();
  sendJson(ctx.res, 200, { status: "ok" });
}

const slash = "/?";
export const apiRoutes: Route[] = [
  { method: "GET", path: new RegExp(`^/api/app/v3/get-atsign${slash}$`), handler: v3GetAtSign },
  {
    method: "POST",
    path: new RegExp(`^/api/app/v3/activate-atsign${slash}$`),
    handler: v3Activate,
  },
  { method: "GET", path: new RegExp(`^/api/app/v2/get-free-atsign${slash}$`), handler: v2GetFree },
  {
    method: "POST",
    path: new RegExp(`^/api/app/v2/register-person${slash}$`),
    handler: v2Register,
  },
  {
    method: "POST",
    path: new RegExp(`^/api/app/v2/validate-person${slash}$`),
    handler: v2Validate,
  },
  { method: "GET", path: /^\/api\/admin\/atsigns\/?$/, handler: adminList },
  { method: "GET", path: /^\/api\/admin\/atsigns\/(?<atsign>[^/]+)$/, handler: adminGet },
  {
    method: "POST",
    path: /^\/api\/admin\/atsigns\/(?<atsign>[^/]+)\/(?<action>suspend|resume|reset|delete|move|memory)$/,
    handler: adminAction,
  },
  { method: "GET", path: /^\/api\/status$/, handler: status },
  { method: "GET", path: /^\/healthz$/, handler: health },
];
