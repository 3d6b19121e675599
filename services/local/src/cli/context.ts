// Where the CLI finds the platform (platform.json in $ATPLATFORM_HOME, or flags) and how
// it opens authenticated atServer connections.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient, lookupAtServer, readAtKeys, type AtKeys } from "@atplatform/protocol/src/core";
import { defaultHome, type PlatformInfo } from "../config";
import { flag, UsageError, type Args } from "./args";

export interface CliContext {
  root: { host: string; port: number };
  ca?: string;
  registrarUrl?: string;
  apiKey?: string;
  /** For the atSign list of `status` only. */
  adminKey?: string;
  keysDir: string;
  out: (line: string) => void;
}

export function cliContext(args: Args, out: (line: string) => void): CliContext {
  const home = flag(args, "home") ?? defaultHome();
  const infoFile = join(home, "platform.json");
  const info: Partial<PlatformInfo> = existsSync(infoFile)
    ? (JSON.parse(readFileSync(infoFile, "utf8")) as PlatformInfo)
    : {};
  const root = flag(args, "root") ?? process.env.ATPLATFORM_ROOT ?? info.root;
  if (!root)
    throw new UsageError(
      `no platform found in ${home}: run \`npm start\` or pass --root host:port`,
    );
  const m = /^([^:\s]+):(\d+)$/.exec(root);
  if (!m) throw new UsageError(`--root must be host:port, got ${root}`);
  const caFile = flag(args, "ca") ?? info.caFile;
  let apiKey = flag(args, "api-key") ?? process.env.REGISTRAR_API_KEY;
  if (!apiKey && info.apiKeyFile && existsSync(info.apiKeyFile))
    apiKey = readFileSync(info.apiKeyFile, "utf8").trim();
  let adminKey = process.env.REGISTRAR_ADMIN_KEY || undefined;
  if (!adminKey && info.adminKeyFile && existsSync(info.adminKeyFile))
    adminKey = readFileSync(info.adminKeyFile, "utf8").trim();
  return {
    root: { host: m[1]!, port: Number(m[2]) },
    ca: caFile ? readFileSync(caFile, "utf8") : undefined,
    registrarUrl: flag(args, "registrar") ?? info.registrarUrl,
    apiKey,
    adminKey,
    // Apart from ~/.atsign/keys, where the official tools keep the keys of real atSigns.
    keysDir: flag(args, "keys") ?? join(home, "keys"),
    out,
  };
}

export function keysFile(ctx: CliContext, atSign: string): string {
  return join(ctx.keysDir, `${atSign}_key.atKeys`);
}

export function loadKeys(ctx: CliContext, atSign: string): AtKeys {
  const file = keysFile(ctx, atSign);
  if (!existsSync(file))
    throw new UsageError(
      `no keys for ${atSign} at ${file}: run \`atplatform onboard ${atSign}\` first`,
    );
  return readAtKeys(file);
}

/** Looks the atSign up in the root and opens a TLS connection to its atServer. */
export async function connectTo(ctx: CliContext, atSign: string): Promise<AtClient> {
  const addr = await lookupAtServer(atSign, { ...ctx.root, ca: ctx.ca });
  if (!addr) throw new Error(`the root does not know ${atSign}`);
  return AtClient.connect({ host: addr.host, port: addr.port, ca: ctx.ca, atSign });
}

/** A PKAM-authenticated connection to the atSign's own atServer. */
export async function authenticated(
  ctx: CliContext,
  atSign: string,
): Promise<{ client: AtClient; keys: AtKeys }> {
  const keys = loadKeys(ctx, atSign);
  const client = await connectTo(ctx, atSign);
  try {
    // An enrolled device's keys file names its enrollment (at_activate's field).
    await client.pkam(keys.pkamPrivateKey, { enrollmentId: keys.extra?.enrollmentId });
  } catch (err) {
    client.destroy();
    throw err;
  }
  return { client, keys };
}
