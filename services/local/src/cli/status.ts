import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lookupAtServer } from "@atplatform/protocol/src/core";
import { defaultHome, type PlatformInfo } from "../config";
import { flag, type Args } from "./args";
import { cliContext, type CliContext } from "./context";
import {
  atServerEndpoints,
  atServerLine,
  directoryLine,
  registrarLine,
  scrape,
  type Sample,
} from "./metrics-summary";

/**
 * `status`: is the local platform running; is the root answering, is the registrar up, how
 * many atSigns in which state; then a summary from the metrics endpoints (directory lookups
 * and store, registrar atSigns by state, each atServer's connections and memory).
 */
export async function status(args: Args, out: (line: string) => void): Promise<void> {
  const home = flag(args, "home") ?? defaultHome();
  const explicitRoot = flag(args, "root") ?? process.env.ATPLATFORM_ROOT;
  if (!explicitRoot) {
    const why = notRunning(home);
    if (why) {
      out(`atPlatform is not running: ${why}. Start it with \`npm start\`.`);
      process.exitCode = 1;
      return;
    }
  }
  const ctx = cliContext(args, out);
  await rootAndRegistrar(ctx);
  if (explicitRoot) return;
  const info = JSON.parse(readFileSync(join(home, "platform.json"), "utf8")) as PlatformInfo;
  await metricsSummary(home, info, out);
}

/** Why the platform of `home` is not running, or undefined when it is. */
function notRunning(home: string): string | undefined {
  if (!existsSync(join(home, "platform.json"))) return `no platform has run in ${home}`;
  const pidFile = join(home, "platform.pid");
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").split(/\s+/)[0]) : NaN;
  if (!Number.isInteger(pid) || pid <= 0) return `it stopped (data in ${home})`;
  try {
    process.kill(pid, 0);
  } catch {
    return `its process ${pid} is gone (data in ${home})`;
  }
  return undefined;
}

async function rootAndRegistrar(ctx: CliContext): Promise<void> {
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

async function metricsSummary(
  home: string,
  info: PlatformInfo,
  out: (line: string) => void,
): Promise<void> {
  if (!info.metrics) {
    out("metrics:   off (ATPLATFORM_METRICS=off)");
    return;
  }
  const atServers = atServerEndpoints(home);
  const [directory, registrar, ...each] = await Promise.all([
    scrape(info.metrics.directory),
    scrape(info.metrics.registrar),
    ...atServers.map((a) => scrape(a.url)),
  ]);
  const line = (label: string, s: Sample[] | Error, render: (s: Sample[]) => string) => {
    if (s instanceof Error) {
      out(`  ${label.padEnd(24)} NOT answering (${s.message})`);
      process.exitCode = 1;
    } else out(`  ${label.padEnd(24)} ${render(s)}`);
  };
  out("metrics:");
  line("directory", directory!, directoryLine);
  line("registrar", registrar!, registrarLine);
  if (atServers.length === 0) out("  atServers                none running");
  atServers.forEach((a, i) => line(a.atSign, each[i]!, atServerLine));
}
