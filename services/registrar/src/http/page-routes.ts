// Server-rendered pages for people: every action is a plain form, no JavaScript needed.
import { withAt } from "../atsign";
import { RegistrarError } from "../errors";
import { qrSvg } from "../qr";
import type { AtSignRecord } from "../store/types";
import {
  checkCsrf,
  checkPreLogin,
  clientIp,
  preLoginToken,
  sessionCookie,
  sessionOf,
  SESSION_COOKIE,
} from "./auth";
import type { Ctx, Route } from "./context";
import { html, page, raw, STYLE, type Html } from "./html";
import { bool, readForm } from "./request";
import { redirect, sendHtml, sendText } from "./respond";

const SESSION_MAX_AGE_S = 24 * 3600;

function show(ctx: Ctx, title: string, body: Html, status = 200, refresh?: number): void {
  sendHtml(ctx.res, status, page({ title, body, refresh, signedIn: !!sessionOf(ctx) }));
}

function errorBox(message: string | undefined): Html | string {
  return message ? html`<p class="error" role="alert">${message}</p>` : "";
}

function registerForm(suggested: string, email = "", error?: string): Html {
  return html`${errorBox(error)}
    <p>
      An atSign is your address on the atPlatform. Take the free one below or type the one you want,
      then confirm your email with a one-time code.
    </p>
    <form method="post" action="/register">
      <label for="atsign">atSign</label>
      <input
        type="text"
        id="atsign"
        name="atsign"
        value="${suggested}"
        required
        maxlength="56"
        autocomplete="off"
        aria-describedby="atsign-help"
      />
      <p id="atsign-help">Letters, digits and emoji; without spaces, ':' or '@'.</p>
      <label for="email">Email</label>
      <input type="email" id="email" name="email" value="${email}" required autocomplete="email" />
      <button type="submit">Send me a code</button>
    </form>
    <p><a href="/">Suggest another free atSign</a></p>`;
}

function home(ctx: Ctx): void {
  show(ctx, "Get an atSign", registerForm(withAt(ctx.service.suggestFreeAtSign())));
}

function codeForm(
  action: string,
  fields: Record<string, string>,
  opts: { error?: string; confirm?: Html } = {},
): Html {
  return html`${errorBox(opts.error)}
    <p class="note" role="status">We sent a six-digit code to ${fields.email}.</p>
    <form method="post" action="${action}">
      ${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`)}
      <label for="code">One-time code</label>
      <input
        type="text"
        id="code"
        name="code"
        inputmode="numeric"
        pattern="[0-9]{6}"
        maxlength="6"
        required
        autocomplete="one-time-code"
      />
      ${opts.confirm ?? ""}
      <button type="submit">Confirm</button>
    </form>`;
}

async function register(ctx: Ctx): Promise<void> {
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  ctx.limiter.check(clientIp(ctx), undefined, true);
  try {
    const atsign = await ctx.service.startRegistration(form.email, form.atsign);
    show(
      ctx,
      `Confirm ${withAt(atsign)}`,
      codeForm("/verify", {
        atsign,
        email: form.email!.trim().toLowerCase(),
        pre: preLoginToken(ctx),
      }),
    );
  } catch (err) {
    if (!(err instanceof RegistrarError) || err.status >= 500) throw err;
    show(
      ctx,
      "Get an atSign",
      registerForm(form.atsign ?? "", form.email ?? "", err.message),
      err.status,
    );
  }
}

async function verify(ctx: Ctx): Promise<void> {
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  checkPreLogin(ctx, form.pre);
  const fields = { atsign: form.atsign ?? "", email: form.email ?? "", pre: form.pre! };
  const r = await ctx.service.verifyRegistration(
    form.email,
    form.atsign,
    form.code,
    bool(form, "confirm"),
  );
  if (r.kind === "retry") {
    show(
      ctx,
      `Confirm ${withAt(fields.atsign)}`,
      codeForm("/verify", fields, { error: "That code is not right. Try again." }),
      422,
    );
    return;
  }
  if (r.kind === "confirm") {
    const confirm = html`<p>This email already has ${r.existing.map(withAt).join(", ")}.</p>
      <label
        ><input type="checkbox" name="confirm" value="true" required /> Yes, add ${withAt(r.atsign)}
        too</label
      >`;
    show(ctx, `Confirm ${withAt(r.atsign)}`, codeForm("/verify", fields, { confirm }));
    return;
  }
  const token = ctx.service.createSession(fields.email.trim().toLowerCase());
  redirect(ctx.res, `/atsigns/${encodeURIComponent(r.atsign)}`, {
    "Set-Cookie": sessionCookie(ctx, token, SESSION_MAX_AGE_S),
  });
}

function loginPage(ctx: Ctx, error?: string): void {
  show(
    ctx,
    "Sign in",
    html`${errorBox(error)}
      <p>Sign in with the email you registered with; we send you a one-time code.</p>
      <form method="post" action="/login">
        <label for="email">Email</label>
        <input type="email" id="email" name="email" required autocomplete="email" />
        <button type="submit">Send me a code</button>
      </form>`,
    error ? 400 : 200,
  );
}

async function login(ctx: Ctx): Promise<void> {
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  const email = await ctx.service.startLogin(form.email);
  show(ctx, "Sign in", codeForm("/login/verify", { email, pre: preLoginToken(ctx) }));
}

async function loginVerify(ctx: Ctx): Promise<void> {
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  checkPreLogin(ctx, form.pre);
  const token = ctx.service.verifyLogin(form.email, form.code);
  if (!token) {
    show(
      ctx,
      "Sign in",
      codeForm(
        "/login/verify",
        { email: form.email ?? "", pre: form.pre! },
        { error: "That code is not right. Try again." },
      ),
      422,
    );
    return;
  }
  redirect(ctx.res, "/atsigns", { "Set-Cookie": sessionCookie(ctx, token, SESSION_MAX_AGE_S) });
}

async function logout(ctx: Ctx): Promise<void> {
  await readForm(ctx.req, ctx.settings.bodyLimit).catch(() => undefined);
  const s = sessionOf(ctx);
  if (s) ctx.service.endSession(s.token);
  redirect(ctx.res, "/", {
    "Set-Cookie": `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`,
  });
}

function myAtSigns(ctx: Ctx): void {
  const s = sessionOf(ctx);
  if (!s) return loginPage(ctx);
  const recs = ctx.service.ownedBy(s.session.email).map((a) => ctx.service.store.get(a)!);
  show(
    ctx,
    "My atSigns",
    recs.length === 0
      ? html`<p>You have no atSigns yet. <a href="/">Get one</a>.</p>`
      : html`<table>
          <caption>
            atSigns registered to ${s.session.email}
          </caption>
          <thead>
            <tr>
              <th scope="col">atSign</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            ${recs.map(
              (r) =>
                html`<tr>
                  <td>
                    <a href="/atsigns/${encodeURIComponent(r.atsign)}">${withAt(r.atsign)}</a>
                  </td>
                  <td>${describe(r)}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
  );
}

function describe(rec: AtSignRecord): string {
  switch (rec.state) {
    case "active":
      return "active";
    case "suspended":
    case "suspending":
      return "suspended";
    case "deleting":
      return "being deleted";
    case "failed":
      return "could not be set up";
    default:
      return `being set up (${rec.state.replace(/_/g, " ")})`;
  }
}

async function atSignPage(ctx: Ctx): Promise<void> {
  const s = sessionOf(ctx);
  if (!s) return redirect(ctx.res, "/atsigns");
  const rec = ctx.service.get(ctx.params.atsign, s.session.email);
  const pending = !["active", "suspended", "failed"].includes(rec.state);
  // Shown on the first view once the atServer is active, then gone from the registrar.
  const secret = rec.state === "active" ? ctx.service.takeSecret(rec.atsign) : undefined;
  const cramkey = secret ? `${withAt(rec.atsign)}:${secret}` : undefined;
  const awaiting = pending && rec.cramSecret !== null;
  const csrf = html`<input type="hidden" name="csrf" value="${s.session.csrf}" />`;
  const base = `/atsigns/${encodeURIComponent(rec.atsign)}`;
  show(
    ctx,
    withAt(rec.atsign),
    html`<p role="status">
        Status: <strong id="status">${describe(rec)}</strong>${
          pending
            ? html` — this page refreshes by itself; or <a href="${base}">refresh now</a>.`
            : ""
        }
      </p>
      ${rec.lastError ? html`<p class="note">Last attempt: ${rec.lastError} (retrying)</p>` : ""}
      ${
        cramkey
          ? html`<h2>Activation secret</h2>
              <p>
                Use it once to activate ${withAt(rec.atsign)} with an onboarding app or
                <code>npx atplatform onboard ${withAt(rec.atsign)} --cram-file -</code> (paste it,
                then Ctrl-D). Keep it private. It is shown only this once: copy it now (if it is
                lost before you activate, reset the atSign for a new one).
              </p>
              <code class="secret" id="cramkey">${cramkey}</code>
              <figure class="qr">
                ${raw(await qrSvg(cramkey))}
                <figcaption>The same secret as a QR code, for pairing apps.</figcaption>
              </figure>`
          : awaiting
            ? html`<p class="note">
                Your activation secret appears here, once, when the atServer is ready.
              </p>`
            : rec.state === "active"
              ? html`<p class="note" id="secret-spent">
                  The activation secret was shown once and is spent: it is no longer on record here.
                  To activate again (a new device, lost keys), reset the atSign for a new one.
                </p>`
              : ""
      }
      <h2>Reset</h2>
      <p>Wipes this atSign's data and issues a new activation secret.</p>
      <form method="post" action="${base}/reset">
        ${csrf}
        <label
          ><input type="checkbox" name="confirm" value="true" required /> I understand that all data
          is wiped</label
        >
        <button type="submit">Reset ${withAt(rec.atsign)}</button>
      </form>
      <h2>Delete</h2>
      <p>Stops the atServer, archives its data and releases the name.</p>
      <form method="post" action="${base}/delete">
        ${csrf}
        <label
          ><input type="checkbox" name="confirm" value="true" required /> I understand that
          ${withAt(rec.atsign)} will be deleted</label
        >
        <button type="submit">Delete ${withAt(rec.atsign)}</button>
      </form>`,
    200,
    pending ? 1 : undefined,
  );
}

async function atSignAction(ctx: Ctx): Promise<void> {
  const s = sessionOf(ctx);
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  if (!s) return redirect(ctx.res, "/atsigns");
  checkCsrf(s.session, form.csrf);
  const rec = ctx.service.get(ctx.params.atsign, s.session.email);
  if (!bool(form, "confirm")) {
    show(
      ctx,
      withAt(rec.atsign),
      html`${errorBox("Tick the confirmation box first.")}
        <p><a href="/atsigns/${encodeURIComponent(rec.atsign)}">Back</a></p>`,
      400,
    );
    return;
  }
  if (ctx.params.action === "reset") {
    ctx.service.reset(rec);
    return redirect(ctx.res, `/atsigns/${encodeURIComponent(rec.atsign)}`);
  }
  ctx.service.delete(rec);
  show(
    ctx,
    `${withAt(rec.atsign)} deleted`,
    html`<p role="status">${withAt(rec.atsign)} is being deleted.</p>
      <p><a href="/atsigns">My atSigns</a></p>`,
  );
}

export const pageRoutes: Route[] = [
  { method: "GET", path: /^\/$/, handler: home },
  {
    method: "GET",
    path: /^\/style\.css$/,
    handler: (ctx) => sendText(ctx.res, 200, "text/css; charset=utf-8", STYLE),
  },
  { method: "POST", path: /^\/register$/, handler: register },
  { method: "POST", path: /^\/verify$/, handler: verify },
  { method: "GET", path: /^\/login$/, handler: (ctx) => loginPage(ctx) },
  { method: "POST", path: /^\/login$/, handler: login },
  { method: "POST", path: /^\/login\/verify$/, handler: loginVerify },
  { method: "POST", path: /^\/logout$/, handler: logout },
  { method: "GET", path: /^\/atsigns\/?$/, handler: myAtSigns },
  { method: "GET", path: /^\/atsigns\/(?<atsign>[^/]+)$/, handler: atSignPage },
  {
    method: "POST",
    path: /^\/atsigns\/(?<atsign>[^/]+)\/(?<action>reset|delete)$/,
    handler: atSignAction,
  },
];
