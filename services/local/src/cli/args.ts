// The CLI's one argument parser (node:util parseArgs, strict): every flag, its kind, and the
// usage line of each command, so that a usage error names the one line that applies.
import { parseArgs as parseNodeArgs } from "node:util";
import { atSignBody, InvalidAtSignError } from "@atplatform/protocol/src/core";

export interface Args {
  positional: string[];
  flags: Record<string, string | true>;
}

const STRING_FLAGS = [
  "home",
  "root",
  "ca",
  "registrar",
  "api-key",
  "keys",
  "email",
  "otp",
  "cram-file",
  "cram",
  "cramkey",
  "shared-with",
  "from",
  "count",
  "timeout",
  "since",
  "app",
  "device",
  "namespaces",
  "admin-key-file",
  "kind",
  "overlap",
  "out",
] as const;
const BOOLEAN_FLAGS = [
  "public",
  "help",
  "version",
  "json",
  "no-onboard",
  "force",
  "yes",
  "demo",
] as const;

/** One line per command: printed alone after a usage error, all together by --help. */
export const USAGE: Record<string, string> = {
  start: "start [--home DIR] [--demo]",
  status: "status",
  register: "register [@name] [--email E [--otp N]] [--no-onboard] [--force]",
  onboard: "onboard @alice --cram-file FILE|- [--force]",
  lookup: "lookup @alice",
  put: "put @alice name value [--public | --shared-with @bob]",
  get: "get @alice name [--public] [--shared-with @bob | --from @bob]",
  delete: "delete @alice name [--public | --shared-with @bob]",
  scan: "scan @alice [regex]",
  notify: "notify @alice @bob name value",
  monitor: "monitor @bob [regex] [--count N] [--timeout SECONDS] [--since EPOCH_MS]",
  otp: "otp @alice",
  enroll:
    "enroll @alice --app NAME --device NAME --namespaces ns:rw,ns2:r --otp CODE [--timeout SECONDS] [--force]",
  list: "list @alice",
  approve: "approve @alice ENROLLMENT_ID",
  deny: "deny @alice ENROLLMENT_ID",
  revoke: "revoke @alice ENROLLMENT_ID",
  admin:
    "admin list | health | status @a | suspend @a | resume @a | reset @a --yes | delete @a --yes | move @a SWARM | rollout [status|start|pause|resume|abort] | keys | rotate-api-key [--kind api|admin] [--overlap SECONDS] [--out FILE] | retire-api-key [--kind api|admin]  [--registrar URL] [--admin-key-file FILE]",
};

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseArgs(argv: string[]): Args {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const f of STRING_FLAGS) options[f] = { type: "string" };
  for (const f of BOOLEAN_FLAGS) options[f] = { type: "boolean" };
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages name the flag and suggest '--' for values that start with '-'.
    throw new UsageError(err instanceof Error ? err.message.split("\n")[0]! : String(err));
  }
  const flags: Record<string, string | true> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    if (v === true || typeof v === "string") flags[k] = v;
  }
  return { positional: [...parsed.positionals], flags };
}

export function flag(args: Args, name: string): string | undefined {
  const v = args.flags[name];
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

/** A whole number flag in [min, max], or the default when absent. */
export function intFlag(
  args: Args,
  name: string,
  dflt: number,
  min = 0,
  max = 2 ** 53 - 1,
): number {
  const v = flag(args, name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

export function atSignArg(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}`);
  try {
    return `@${atSignBody(value)}`;
  } catch (err) {
    if (err instanceof InvalidAtSignError)
      throw new UsageError(`invalid atSign ${value}: ${err.message}`);
    throw err;
  }
}
