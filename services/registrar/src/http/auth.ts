import { ForbiddenError, UnauthorizedError } from "../errors";
import { hmac, safeEqual } from "../secrets";
import type { Session } from "../store/types";
import type { Ctx } from "./context";
import { cookies } from "./request";

export const SESSION_COOKIE = "atp_session";

/** Onboarding tools send the key as the raw Authorization value; `Bearer <key>` works too. */
export function requireApiKey(ctx: Ctx): void {
  const given = (ctx.req.headers.authorization ?? "").replace(/^Bearer\s+/i, "").trim();
  if (!given) throw new UnauthorizedError("missing API key (Authorization header)");
  if (!safeEqual(given, ctx.settings.apiKey)) throw new ForbiddenError("invalid API key");
}

/** Admin: `Authorization: Bearer <admin key>` (API) or HTTP Basic with any user (browsers). */
export function requireAdmin(ctx: Ctx): void {
  const header = ctx.req.headers.authorization ?? "";
  let given = "";
  if (/^Bearer\s+/i.test(header)) given = header.replace(/^Bearer\s+/i, "").trim();
  else if (/^Basic\s+/i.test(header)) {
    const decoded = Buffer.from(header.replace(/^Basic\s+/i, ""), "base64").toString("utf8");
    given = decoded.slice(decoded.indexOf(":") + 1);
  }
  if (!given) throw new UnauthorizedError("admin authentication required");
  if (!safeEqual(given, ctx.settings.adminKey)) throw new UnauthorizedError("invalid admin key");
}

export function adminCsrf(ctx: Ctx): string {
  return hmac(ctx.settings.adminKey, "admin-csrf");
}

export function checkAdminCsrf(ctx: Ctx, token: string | undefined): void {
  if (!token || !safeEqual(token, adminCsrf(ctx))) throw new ForbiddenError("invalid form token");
}

export function sessionOf(ctx: Ctx): { token: string; session: Session } | undefined {
  const token = cookies(ctx.req)[SESSION_COOKIE];
  const session = ctx.service.session(token);
  return token && session ? { token, session } : undefined;
}

export function checkCsrf(session: Session, token: string | undefined): void {
  if (!token || !safeEqual(token, session.csrf)) throw new ForbiddenError("invalid form token");
}

export function sessionCookie(ctx: Ctx, token: string, maxAgeS: number): string {
  const secure = ctx.settings.secureCookies ? "; Secure" : "";
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}
