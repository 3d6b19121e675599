// update and update:meta (Part B §3.5, §3.6).
import {
  InvalidKeyError,
  parseKey,
  type UpdateMetaParams,
  type UpdateParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { VerbHandler } from "../engine/verb";
import { authorize } from "../apkam/access";
import { keyOf, requireOwnOwner } from "./key-args";

const WRITABLE = new Set(["selfKey", "sharedKey", "publicKey", "reservedKey"]);

/** update:meta shares update's checks and texts (the reference says `update` for both). */
function writableKey(ctx: ServerContext, p: UpdateParams | UpdateMetaParams): string {
  requireOwnOwner(p.owner, ctx.atSign, "update");
  const key = keyOf(p, ctx.atSign);
  const parsed = parseKey(key);
  if (!WRITABLE.has(parsed.type) || key === "privatekey:at_secret") {
    throw new InvalidKeyError(`You may not update keys of type KeyType.${parsed.type}`);
  }
  return key;
}

export function emitCommit(
  ctx: ServerContext,
  key: string,
  operation: "update" | "delete",
  commitId: number,
  value: string | null,
): void {
  ctx.events.emit("commit", { key, operation, commitId, value });
}

export const update: VerbHandler<UpdateParams> = {
  access: ["A"],
  async handle(ctx, s, p) {
    const key = writableKey(ctx, p);
    authorize(s, key, "update", true);
    const id = await ctx.writes.submit(() => ctx.keys.put(key, p.value, p.metadata ?? {}));
    emitCommit(ctx, key, "update", id, p.value);
    return String(id);
  },
};

export const updateMeta: VerbHandler<UpdateMetaParams> = {
  access: ["A"],
  async handle(ctx, s, p) {
    const key = writableKey(ctx, p);
    authorize(s, key, "update", true);
    const id = await ctx.writes.submit(() => ctx.keys.putMeta(key, p.metadata ?? {}));
    emitCommit(ctx, key, "update", id, null);
    return String(id);
  },
};
