// Admin API of image roll-outs: progress, and start/pause/resume/abort.
import { ConflictError, RegistrarError, UnavailableError } from "../errors";
import type { RolloutController } from "../rollout/rollout-controller";
import { requireAdmin } from "./auth";
import type { Ctx, Route } from "./context";
import { sendJson } from "./respond";

function controller(ctx: Ctx): RolloutController {
  const c = ctx.settings.rollout;
  if (!c)
    throw new ConflictError(
      `the ${ctx.settings.orchestrator} orchestrator runs no images: there is nothing to roll out`,
    );
  return c;
}

/** The latest roll-out's progress, plus how many atServers are not on their swarm's image. */
async function rolloutStatus(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const c = ctx.settings.rollout;
  if (!c) {
    sendJson(ctx.res, 200, { supported: false, orchestrator: ctx.settings.orchestrator });
    return;
  }
  let outdated: { active: number; suspended: number } | null = null;
  let outdatedError: string | undefined;
  try {
    outdated = await c.outdated();
  } catch (err) {
    // The engines may be unreachable; the stored progress is still worth showing.
    outdatedError = err instanceof Error ? err.message : String(err);
  }
  sendJson(ctx.res, 200, {
    supported: true,
    orchestrator: ctx.settings.orchestrator,
    outdated,
    ...(outdatedError ? { outdatedError } : {}),
    rollout: c.status() ?? null,
  });
}

async function rolloutAction(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const c = controller(ctx);
  switch (ctx.params.action) {
    case "start":
      // Planning asks every swarm's engine what its services run.
      await c.start().catch((err: unknown) => {
        if (err instanceof RegistrarError) throw err;
        throw new UnavailableError(
          `cannot plan a roll-out: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      break;
    case "pause":
      c.pause();
      break;
    case "resume":
      c.resumeRollout();
      break;
    default:
      c.abort();
  }
  sendJson(ctx.res, 202, { rollout: c.status() ?? null });
}

export const rolloutRoutes: Route[] = [
  { method: "GET", path: /^\/api\/admin\/rollout\/?$/, handler: rolloutStatus },
  {
    method: "POST",
    path: /^\/api\/admin\/rollout\/(?<action>start|pause|resume|abort)$/,
    handler: rolloutAction,
  },
];
