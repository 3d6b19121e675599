import { atSignBody, InvalidAtSignError } from "@atplatform/protocol/src/core";

/** `--name value`, `--flag` (boolean when followed by nothing or another flag), positionals. */
export interface Args {
  positional: string[];
  flags: Record<string, string | true>;
}

const BOOLEAN_FLAGS = new Set(["public", "help", "json", "onboard", "no-onboard"]);

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) {
        flags[a.slice(2, eq)] = a.slice(eq + 1);
        continue;
      }
      const name = a.slice(2);
      const next = argv[i + 1];
      if (BOOLEAN_FLAGS.has(name) || next === undefined || next.startsWith("--"))
        flags[name] = true;
      else {
        flags[name] = next;
        i++;
      }
      continue;
    }
    positional.push(a);
  }
  return { positional, flags };
}

export class UsageError extends Error {
  override name = "UsageError";
}

export function flag(args: Args, name: string): string | undefined {
  const v = args.flags[name];
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
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
