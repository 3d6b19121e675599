// `atplatform admin …`: the registrar's admin API from the command line, in the spirit of
// Bluesky's pdsadmin, for the local platform and a cloud registrar alike. The admin key comes
// from a file or the environment, never from the command line (shell history, `ps`).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient } from "@atplatform/protocol/src/core";
import { defaultHome, type PlatformInfo } from "../config";
import { atSignArg, flag, UsageError, type Args } from "./args";
import { listKeys, retireKeys, rotateKey, rollout, type OpsTarget } from "./admin-ops";
import { registrarJson } from "./registrar-http";

interface AdminTarget {
  url: string;
  key: string;
  /** The local platform's key files, when the target is the local platform. */
  keyFiles?: { api?: string; admin?: string };
  /** To verify atServers' certificates (local CA); none = the system's CAs. */
  ca?: string;
  out: (line: string) => void;
}

interface AtSignView {
  atSign: string;
  state: string;
  swarm: string | null;
  host: string | null;
  port: number | null;
  lastError: string | null;
}

/** --registrar URL | $ATPLATFORM_REGISTRAR | platform.json; --admin-key-file | $REGISTRAR_ADMIN_KEY | <home>/admin-key */
export function adminTarget(args: Args, out: (line: string) => void): AdminTarget {
  const home = flag(args, "home") ?? defaultHome();
  const infoFile = join(home, "platform.json");
  const info: Partial<PlatformInfo> = existsSync(infoFile)
    ? (JSON.parse(readFileSync(infoFile, "utf8")) as PlatformInfo)
    : {};
  const url = flag(args, "registrar") ?? process.env.ATPLATFORM_REGISTRAR ?? info.registrarUrl;
  if (!url)
    throw new UsageError(
      `no registrar: pass --registrar URL or set ATPLATFORM_REGISTRAR (no platform in ${home})`,
    );
  if (!/^https?:\/\/[^\s/]+\/?$/.test(url))
    throw new UsageError(`--registrar must be http(s)://host[:port], got ${url}`);
  const keyFile = flag(args, "admin-key-file");
  let key: string | undefined;
  if (keyFile) key = readFileSync(keyFile, "utf8").trim();
  else if (process.env.REGISTRAR_ADMIN_KEY) key = process.env.REGISTRAR_ADMIN_KEY;
  else if (info.adminKeyFile && existsSync(info.adminKeyFile))
    key = readFileSync(info.adminKeyFile, "utf8").trim();
  if (!key)
    throw new UsageError("no admin key: pass --admin-key-file FILE or set REGISTRAR_ADMIN_KEY");
  const caFile = flag(args, "ca") ?? (flag(args, "registrar") ? undefined : info.caFile);
  const ca = caFile ? readFileSync(caFile, "utf8") : undefined;
  // Rotated keys replace the local platform's files only when those are what was used.
  const local = !flag(args, "registrar") && !process.env.ATPLATFORM_REGISTRAR;
  const keyFiles = local
    ? {
        api: info.apiKeyFile,
        admin: !keyFile && !process.env.REGISTRAR_ADMIN_KEY ? info.adminKeyFile : undefined,
      }
    : undefined;
  return { url: url.replace(/\/$/, ""), key, ca, out, keyFiles };
}

async function call(t: AdminTarget, method: string, path: string, body?: unknown): Promise<any> {
  return registrarJson(t.url + path, method, `Bearer ${t.key}`, body);
}

function row(a: AtSignView): string {
  const where = a.host ? `${a.host}:${a.port}` : "-";
  return `${a.atSign.padEnd(24)} ${a.state.padEnd(18)} ${(a.swarm ?? "-").padEnd(10)} ${where}`;
}

/** `info:brief` of every active atServer, a few at a time: versions, and who does not answer. */
async function atServerVersions(t: AdminTarget, atsigns: AtSignView[]): Promise<void> {
  const active = atsigns.filter((a) => a.state === "active" && a.host && a.port);
  const versions = new Map<string, number>();
  const silent: string[] = [];
  for (let i = 0; i < active.length; i += 8) {
    await Promise.all(
      active.slice(i, i + 8).map(async (a) => {
        try {
          const c = await AtClient.connect({
            host: a.host!,
            port: a.port!,
            ca: t.ca,
            timeoutMs: 3000,
          });
          try {
            const v = (JSON.parse(await c.execute("info:brief")) as { version: string }).version;
            versions.set(v, (versions.get(v) ?? 0) + 1);
          } finally {
            c.destroy();
          }
        } catch (err) {
          silent.push(`${a.atSign} (${err instanceof Error ? err.message : String(err)})`);
        }
      }),
    );
  }
  const list = [...versions].map(([v, n]) => `${v} ×${n}`).join(", ");
  t.out(
    `atServers: ${active.length - silent.length}/${active.length} answering${list ? `; versions ${list}` : ""}`,
  );
  for (const s of silent) t.out(`  not answering: ${s}`);
  if (silent.length > 0) process.exitCode = 1;
}

const ACTIONS = new Set(["suspend", "resume", "reset", "delete"]);
const OPS = ["rollout", "keys", "rotate-api-key", "retire-api-key"];

/** `admin list|status|health|suspend|resume|reset|delete|move|rollout|keys|rotate-api-key|retire-api-key …` */
export async function admin(args: Args, out: (line: string) => void): Promise<void> {
  const sub = args.positional.shift();
  if (!sub) throw new UsageError("missing admin command");
  if (!["list", "status", "health", "move", ...ACTIONS, ...OPS].includes(sub))
    throw new UsageError(`unknown admin command ${sub}`);
  const t = adminTarget(args, out);
  if (OPS.includes(sub)) {
    const ops: OpsTarget = {
      call: (method, path, body) => call(t, method, path, body),
      out,
      keyFiles: t.keyFiles,
    };
    if (sub === "rollout") return rollout(ops, args);
    if (sub === "keys") return listKeys(ops);
    if (sub === "rotate-api-key") return rotateKey(ops, args);
    return retireKeys(ops, args);
  }
  if (sub === "list") {
    const { atsigns } = (await call(t, "GET", "/api/admin/atsigns")) as { atsigns: AtSignView[] };
    for (const a of atsigns) out(row(a));
    return;
  }
  if (sub === "health") {
    const health = await call(t, "GET", "/healthz");
    const counts = (await call(t, "GET", "/api/status")) as { atsigns: Record<string, number> };
    out(`registrar: ${t.url} ${health.status}`);
    out(
      `atSigns:   ${
        Object.entries(counts.atsigns)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "none"
      }`,
    );
    // The admin key is checked too: a health check that passes with a wrong key misleads.
    const { atsigns } = (await call(t, "GET", "/api/admin/atsigns")) as { atsigns: AtSignView[] };
    out("admin key: accepted");
    await atServerVersions(t, atsigns);
    return;
  }
  const atSign = atSignArg(args.positional[0], "atSign");
  const path = `/api/admin/atsigns/${encodeURIComponent(atSign)}`;
  if (sub === "status") {
    const r = (await call(t, "GET", path)) as AtSignView & {
      atServer: Record<string, unknown>;
      events: { at: string; kind: string; detail: string | null }[];
    };
    out(row(r));
    if (r.lastError) out(`last error: ${r.lastError}`);
    out(`atServer: ${JSON.stringify(r.atServer)}`);
    for (const e of r.events.slice(-10))
      out(`  ${e.at} ${e.kind}${e.detail ? ` ${e.detail}` : ""}`);
    return;
  }
  if ((sub === "reset" || sub === "delete") && args.flags.yes !== true)
    throw new UsageError(`${sub} wipes ${atSign}'s data: add --yes to confirm`);
  let body: unknown;
  if (sub === "move") {
    const swarm = args.positional[1];
    if (!swarm) throw new UsageError("missing swarm name");
    body = { swarm };
  }
  const r = (await call(t, "POST", `${path}/${sub}`, body)) as AtSignView;
  out(row(r));
}
