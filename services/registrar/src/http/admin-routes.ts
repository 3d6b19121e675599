// Admin pages (HTTP Basic auth with the admin key; any user name).
import { withAt } from "../atsign";
import { BadRequestError } from "../errors";
import { adminCsrf, checkAdminCsrf, requireAdmin } from "./auth";
import type { Ctx, Route } from "./context";
import { html, page } from "./html";
import { readForm } from "./request";
import { redirect, sendHtml } from "./respond";

function adminList(ctx: Ctx): void {
  requireAdmin(ctx);
  const csrf = html`<input type="hidden" name="csrf" value="${adminCsrf(ctx)}" />`;
  const rows = ctx.service.store.list().filter((r) => r.state !== "deleted");
  const roll = ctx.settings.rollout?.status();
  const body = html`<p>
      ${rows.length} atSigns. Placements in use: ${ctx.service.store.placementCount()}.
    </p>
    ${
      roll
        ? html`<p id="rollout">
            Image roll-out ${roll.id}: ${roll.state}, batch ${roll.batch}; ${roll.counts.done} done,
            ${roll.counts.failed} failed, ${roll.counts.pending + roll.counts.updating} pending of
            ${roll.total}${roll.stoppedReason ? html` (${roll.stoppedReason})` : ""}.
          </p>`
        : ""
    }
    <table>
      <caption>
        All atSigns
      </caption>
      <thead>
        <tr>
          <th scope="col">atSign</th>
          <th scope="col">State</th>
          <th scope="col">Owner</th>
          <th scope="col">Placement</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((r) => {
          const base = `/admin/atsigns/${encodeURIComponent(r.atsign)}`;
          return html`<tr>
            <td><a href="${base}">${withAt(r.atsign)}</a></td>
            <td>${r.state}${r.lastError ? html`<br /><small>${r.lastError}</small>` : ""}</td>
            <td>${r.email ?? "API key"}</td>
            <td>${r.swarm ? `${r.swarm} ${r.host}:${r.port}` : "-"}</td>
            <td>
              ${
                r.state === "active"
                  ? html`<form method="post" action="${base}/suspend" class="inline">
                        ${csrf}<button type="submit">Suspend</button>
                      </form>
                      <form method="post" action="${base}/move" class="inline">
                        ${csrf}<label for="swarm-${r.atsign}">Move to swarm</label>
                        <select id="swarm-${r.atsign}" name="swarm">
                          ${ctx.settings.swarms.map((s) => html`<option>${s}</option>`)}
                        </select>
                        <button type="submit">Move</button>
                      </form>`
                  : ""
              }${
                r.state === "suspended"
                  ? html`<form method="post" action="${base}/resume" class="inline">
                      ${csrf}<button type="submit">Resume</button>
                    </form>`
                  : ""
              }
            </td>
          </tr>`;
        })}
      </tbody>
    </table>`;
  sendHtml(ctx.res, 200, page({ title: "Admin: atSigns", body }));
}

async function adminDetail(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const rec = ctx.service.get(ctx.params.atsign);
  const events = ctx.service.store.events(rec.atsign);
  const atServer = await ctx.service.provisioner.inspect(rec.atsign).catch(() => undefined);
  const running =
    atServer?.state === "running"
      ? `running${atServer.pid ? `, pid ${atServer.pid}` : ""}${
          atServer.restarts ? `, ${atServer.restarts} restarts` : ""
        }`
      : (atServer?.state ?? "unknown");
  const body = html`<dl>
      <dt>State</dt>
      <dd>${rec.state}</dd>
      <dt>Owner</dt>
      <dd>${rec.email ?? "API key"}</dd>
      <dt>Placement</dt>
      <dd>${rec.swarm ? `${rec.swarm} ${rec.host}:${rec.port}` : "-"}</dd>
      <dt>atServer</dt>
      <dd>${running}</dd>
      <dt>Last error</dt>
      <dd>${rec.lastError ?? "-"}</dd>
    </dl>
    <table>
      <caption>
        History
      </caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Event</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${events.map(
          (e) =>
            html`<tr>
              <td>${new Date(e.at).toISOString()}</td>
              <td>${e.kind}</td>
              <td>${e.detail ?? ""}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <p><a href="/admin">All atSigns</a></p>`;
  sendHtml(ctx.res, 200, page({ title: `Admin: ${withAt(rec.atsign)}`, body }));
}

async function adminPost(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const form = await readForm(ctx.req, ctx.settings.bodyLimit);
  checkAdminCsrf(ctx, form.csrf);
  const rec = ctx.service.get(ctx.params.atsign);
  if (ctx.params.action === "suspend") ctx.service.suspend(rec);
  else if (ctx.params.action === "resume") ctx.service.resume(rec);
  else if (ctx.params.action === "move") {
    if (!form.swarm) throw new BadRequestError("choose a swarm");
    ctx.service.move(rec, form.swarm, ctx.settings.swarms);
  }
  redirect(ctx.res, "/admin");
}

export const adminRoutes: Route[] = [
  { method: "GET", path: /^\/admin\/?$/, handler: adminList },
  { method: "GET", path: /^\/admin\/atsigns\/(?<atsign>[^/]+)$/, handler: adminDetail },
  {
    method: "POST",
    path: /^\/admin\/atsigns\/(?<atsign>[^/]+)\/(?<action>suspend|resume|move)$/,
    handler: adminPost,
  },
];
