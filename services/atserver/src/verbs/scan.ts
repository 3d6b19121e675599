// scan (Part B §3.11, Part C §1.10): what each kind of connection may list.
import {
  AtServerNotFoundError,
  normalizeAtSign,
  type ScanParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import type { VerbHandler } from "../engine/verb";
import { mayAccess } from "../apkam/access";
import { safeRegex } from "../safe-regex";

/** Every listed key must read `…@<atSign>` after its last `:` (at_python parses it so). */
function hasOwner(key: string): boolean {
  const last = key.slice(key.lastIndexOf(":") + 1);
  return /^[^@]+@[^@]+$/.test(last);
}

function visible(key: string, s: Session, showHidden: boolean): string | undefined {
  if (s.isOwner) {
    if (key.startsWith("private:") || key.startsWith("privatekey:")) return undefined;
    if (key.startsWith("public:_") && !(showHidden && key.startsWith("public:__")))
      return undefined;
    if (key.startsWith("_") && !showHidden) return undefined;
    return key;
  }
  if (s.polAtSign) {
    const prefix = `${s.polAtSign}:`;
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }
  if (key.startsWith("public:") && !key.startsWith("public:_")) return key.slice("public:".length);
  return undefined;
}

export function listKeys(
  ctx: ServerContext,
  s: Session,
  regex: RegExp | undefined,
  showHidden: boolean,
): string[] {
  const out: string[] = [];
  for (const key of ctx.keys.store.keys({ regex })) {
    if (!mayAccess(s, key, false)) continue;
    const shown = visible(key, s, showHidden);
    if (shown !== undefined && hasOwner(shown)) out.push(shown);
  }
  return out;
}

/**
 * A relayed listing of another atSign's keys shared with us (`phone.wavi@bob`), cut to the
 * namespaces of an APKAM connection like our own keys (`@alice:phone.wavi@bob`).
 */
function visibleRemote(ctx: ServerContext, s: Session, answer: string): string {
  if (s.auth !== "apkam" || !s.namespaces) return answer;
  let names: unknown;
  try {
    names = JSON.parse(answer);
  } catch {
    return "[]";
  }
  if (!Array.isArray(names)) return "[]";
  const shown = names.filter(
    (n): n is string =>
      typeof n === "string" &&
      mayAccess(s, n.startsWith("public:") ? n : `${ctx.atSign}:${n}`, false),
  );
  return JSON.stringify(shown);
}

export const scan: VerbHandler<ScanParams> = {
  access: ["U", "P", "A"],
  async handle(ctx, s, p) {
    if (p.forAtSign !== undefined && normalizeAtSign(p.forAtSign) !== ctx.atSign && s.isOwner) {
      if (!ctx.peers)
        throw new AtServerNotFoundError(`cannot reach ${p.forAtSign}: no federation configured`);
      return visibleRemote(ctx, s, await ctx.peers.scan(normalizeAtSign(p.forAtSign), p.regex));
    }
    const regex = p.regex !== undefined ? safeRegex(p.regex) : undefined;
    return JSON.stringify(listKeys(ctx, s, regex, p.showHidden === "true"));
  },
};
