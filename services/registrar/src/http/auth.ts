import { ForbiddenError, UnauthorizedError } from "../errors";
import { hmac, randomToken, safeEqual } from "../secrets";
import type { Session } from "../store/types";
import type { Ctx } from "./context";
import { cookies } from "./request";

export const SESSION_COOKIE = "atp_session";
/** Ties a one-time-code form to the browser that asked for the code (login CSRF). */
export const PRE_LOGIN_COOKIE = "atp_pre";

/**
 * Onboarding tools send the key as the raw Authorization value; `Bearer <key>` works too.
 * The call then counts against the caller's IP and key budgets (`creates`: it reserves or
 * activates an atSign).
 */
export function requireApiKey(ctx: Ctx, creates = false): void {
  const given = (ctx.req.headers.authorization ?? "").replace(/^Bearer\s+/i, "").trim();
  const ip = clientIp(ctx);
  if (!given || !ctx.settings.keys.accepts("api", given)) {
    ctx.limiter.check(ip, undefined, false);
    if (!given) throw new UnauthorizedError("missing API key (Authorization header)");
    throw new ForbiddenError("invalid API key");
  }
  ctx.limiter.check(ip, given, creates);
}

/** The peer address (a proxy in front of the registrar makes every caller one IP). */
export function clientIp(ctx: Ctx): string {
  return ctx.req.socket.remoteAddress ?? "unknown";
}

/** Admin: `Authorization: Bearer <admin key>` (API) or HTTP Basic with any user (browsers). */
export function requireAdmin(ctx: Ctx): void {
  const given = presentedAdminKey(ctx);
  if (!given) throw new UnauthorizedError("admin authentication required");
  if (!ctx.settings.keys.accepts("admin", given)) throw new UnauthorizedError("invalid admin key");
}

function presentedAdminKey(ctx: Ctx): string {
  const header = ctx.req.headers.authorization ?? "";
  if (/^Bearer\s+/i.test(header)) return header.replace(/^Bearer\s+/i, "").trim();
  if (/^Basic\s+/i.test(header)) {
    const decoded = Buffer.from(header.replace(/^Basic\s+/i, ""), "base64").toString("utf8");
    return decoded.slice(decoded.indexOf(":") + 1);
  }
  return "";
}

/** Bound to the admin key the browser presents: a retired key's forms stop working with it. */
export function adminCsrf(ctx: Ctx): string {
  return hmac(presentedAdminKey(ctx), "admin-csrf");
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

/**
 * The token for a code form's hidden `pre` field, also set as a SameSite=Strict cookie: a
 * form another site makes a victim's browser post carries the attacker's token, not the
 * victim's cookie, so it cannot sign the victim in to the attacker's account.
 */
export function preLoginToken(ctx: Ctx): string {
  const current = cookies(ctx.req)[PRE_LOGIN_COOKIE];
  const token = current && /^[A-Za-z0-9_-]{24,64}$/.test(current) ? current : randomToken(18);
  const secure = ctx.settings.secureCookies ? "; Secure" : "";
  ctx.res.setHeader(
    "Set-Cookie",
    `${PRE_LOGIN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=1800${secure}`,
  );
  return token;
}

/** A code form must come back from the browser it was given to (and from our own origin). */
export function checkPreLogin(ctx: Ctx, token: string | undefined): void {
  const origin = ctx.req.headers.origin;
  if (origin !== undefined && origin !== "null") {
    let host = "";
    try {
      host = new URL(origin).host;
    } catch {
      /* malformed: refused below */
    }
    if (host !== ctx.req.headers.host) throw new ForbiddenError("invalid form origin");
  }
  const cookie = cookies(ctx.req)[PRE_LOGIN_COOKIE];
  if (!cookie || !token || !safeEqual(cookie, token))
    throw new ForbiddenError("invalid form token");
}
