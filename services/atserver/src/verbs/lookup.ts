// llookup (owner, local), lookup (anyone: resolved by who asks), plookup (public keys).
import {
  buildKey,
  KeyNotFoundError,
  normalizeAtSign,
  type LlookupParams,
  type LookupParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import type { VerbHandler } from "../engine/verb";
import { authorize } from "../apkam/access";
import { AtServerNotFoundError } from "@atplatform/protocol/src/core";
import { keyOf } from "./key-args";
import { answer } from "./read";

const MAX_REFERENCE_DEPTH = 3;

export const llookup: VerbHandler<LlookupParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    const key = keyOf(p, ctx.atSign);
    authorize(s, key, "llookup", false);
    const r = ctx.keys.find(key);
    if (!r) throw new KeyNotFoundError(key);
    if (!ctx.keys.isActive(r)) return "null";
    return answer(r, p.op);
  },
};

/** Follows `atsign://<key>` references in a value (up to 3 levels). */
function resolveReferences(
  ctx: ServerContext,
  prefix: string,
  value: string | null,
): string | null {
  let v = value;
  for (let depth = 0; depth < MAX_REFERENCE_DEPTH && v !== null; depth++) {
    const m = /atsign:\/\/(\S+)/.exec(v);
    if (!m) return v;
    const target = m[1]!.toLowerCase();
    const hit = ctx.keys.active(`${prefix}${target}`) ?? ctx.keys.active(`public:${target}`);
    v = hit ? hit.value : null;
  }
  return v;
}

/** The local key a `lookup` reads, by who asks (§3.8). */
function localLookupKey(
  ctx: ServerContext,
  s: Session,
  entity: string,
  owner: string,
): { key: string; prefix: string } {
  if (s.isOwner) {
    const prefix = `${ctx.atSign}:`;
    return { key: buildKey({ entity, owner, scope: ctx.atSign }), prefix };
  }
  if (s.polAtSign)
    return { key: buildKey({ entity, owner, scope: s.polAtSign }), prefix: `${s.polAtSign}:` };
  return { key: buildKey({ entity, owner, scope: "public" }), prefix: "public:" };
}

export const lookup: VerbHandler<LookupParams> = {
  access: ["U", "P", "A"],
  async handle(ctx, s, p) {
    const owner = normalizeAtSign(p.owner);
    if (s.isOwner && owner !== ctx.atSign) {
      // Same namespace rule as for the owner's own keys (the answer may be a cached copy).
      authorize(s, buildKey({ entity: p.key, owner, scope: ctx.atSign }), "lookup", false);
      if (!ctx.peers)
        throw new AtServerNotFoundError(`cannot reach ${owner}: no federation configured`);
      return ctx.peers.lookup(s, {
        key: p.key,
        owner,
        op: p.op,
        bypassCache: p.bypassCache === "true",
      });
    }
    const { key, prefix } = localLookupKey(ctx, s, p.key, owner);
    if (s.isOwner) authorize(s, key, "lookup", false);
    const r = ctx.keys.find(key);
    if (!r) throw new KeyNotFoundError(key);
    if (!ctx.keys.isActive(r)) return "null";
    ctx.usage.lookedUp(s.isOwner ? ctx.atSign : s.polAtSign, key);
    const value = resolveReferences(ctx, prefix, r.value);
    return answer(r, p.op, key, value);
  },
};

export const plookup: VerbHandler<LookupParams> = {
  access: ["A"],
  async handle(ctx, s, p) {
    const owner = normalizeAtSign(p.owner);
    const key = buildKey({ entity: p.key, owner, scope: "public" });
    if (owner !== ctx.atSign) {
      if (!ctx.peers)
        throw new AtServerNotFoundError(`cannot reach ${owner}: no federation configured`);
      return ctx.peers.plookup(s, {
        key: p.key,
        owner,
        op: p.op,
        bypassCache: p.bypassCache === "true",
      });
    }
    // Our own public key: the remote lookup would come back here, so read it directly.
    const r = ctx.keys.active(key);
    if (!r) throw new KeyNotFoundError(key);
    ctx.usage.lookedUp(ctx.atSign, key);
    return answer(r, p.op, key, resolveReferences(ctx, "public:", r.value));
  },
};

export { keyOf };
