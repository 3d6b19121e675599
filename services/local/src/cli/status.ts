import { lookupAtServer } from "@atplatform/protocol/src/core";
import type { Args } from "./args";
import type { CliContext } from "./context";

/** `status`: is the root answering, is the registrar up, how many atSigns in which state. */
export async function status(ctx: CliContext, _args: Args): Promise<void> {
  ctx.out(`root:      ${ctx.root.host}:${ctx.root.port}`);
  try {
    await lookupAtServer("atplatform-status-probe", { ...ctx.root, ca: ctx.ca, timeoutMs: 3000 });
    ctx.out("           answering");
  } catch (err) {
    ctx.out(`           NOT answering (${err instanceof Error ? err.message : String(err)})`);
    process.exitCode = 1;
  }
  if (!ctx.registrarUrl) return;
  ctx.out(`registrar: ${ctx.registrarUrl}`);
  try {
    const res = await fetch(`${ctx.registrarUrl}/api/status`);
    const body = (await res.json()) as { atsigns: Record<string, number> };
    const counts = Object.entries(body.atsigns)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    ctx.out(`           answering; atSigns: ${counts || "none"}`);
    // Locally the admin key is in the data directory, so the list is available too.
    if (ctx.adminKey) {
      const list = await fetch(`${ctx.registrarUrl}/api/admin/atsigns`, {
        headers: { Authorization: `Bearer ${ctx.adminKey}` },
      });
      if (list.ok) {
        const { atsigns } = (await list.json()) as {
          atsigns: { atSign: string; state: string; host: string | null; port: number | null }[];
        };
        for (const a of atsigns.filter((x) => x.state !== "deleted"))
          ctx.out(
            `  ${a.atSign.padEnd(24)} ${a.state.padEnd(18)} ${a.host ? `${a.host}:${a.port}` : ""}`,
          );
      }
    }
  } catch (err) {
    ctx.out(`           NOT answering (${err instanceof Error ? err.message : String(err)})`);
    process.exitCode = 1;
  }
}
