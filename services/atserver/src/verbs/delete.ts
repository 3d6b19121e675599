// delete (Part B §3.10): protected keys, the CRAM secret, deleting absent keys.
import {
  isProtectedKey,
  UnauthorizedError,
  type DeleteParams,
} from "@atplatform/protocol/src/core";
import type { VerbHandler } from "../engine/verb";
import { authorize } from "../apkam/access";
import { keyOf, requireOwnOwner } from "./key-args";
import { emitCommit } from "./update";
import { AT_SECRET_KEY } from "../data/key-service";

export const del: VerbHandler<DeleteParams> = {
  access: ["A"],
  async handle(ctx, s, p) {
    if (p.key.toLowerCase() === AT_SECRET_KEY) {
      authorize(s, AT_SECRET_KEY, "delete", true);
      ctx.keys.deleteCramSecret();
      ctx.log.verbs.info("CRAM secret deleted: CRAM is disabled for good");
      return "-1";
    }
    if (!p.cached) requireOwnOwner(p.owner, ctx.atSign, "delete");
    const key = keyOf(p, ctx.atSign);
    if (!p.cached && isProtectedKey(key, ctx.atSign)) {
      throw new UnauthorizedError(`Cannot delete protected key: '${key}'`);
    }
    authorize(s, key, "delete", true);
    const id = await ctx.writes.submit(() => ctx.keys.delete(key));
    if (id === undefined) return String(Math.max(0, ctx.keys.store.lastCommitId()));
    emitCommit(ctx, key, "delete", id, null);
    return String(id);
  },
};
