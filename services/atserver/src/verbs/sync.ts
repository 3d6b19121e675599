// sync:from (Part B §3.20, §7): commits after an id, one entry per key, in id order.
import {
  isSyncedKey,
  metadataSyncJson,
  type StoredMetadata,
  type SyncFromParams,
} from "@atplatform/protocol/src/core";
import type { CommitWithEntry } from "../store";
import type { VerbHandler } from "../engine/verb";
import { mayAccess } from "../apkam/access";
import { safeRegex } from "../safe-regex";

const OPS = { update: "*", update_meta: "#", delete: "-" } as const;
const BUFFER_BYTES = 5 * 1024 * 1024;
const READ_PAGE = 200;

/** Keys sync always includes whatever the regex (§7). */
function alwaysIncluded(key: string): boolean {
  return (
    key.includes("shared_key") || key.startsWith("public:publickey") || /^public:[^.]*$/.test(key)
  );
}

export const syncFrom: VerbHandler<SyncFromParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    const regex = p.regex !== undefined ? safeRegex(p.regex) : undefined;
    const limit = ctx.config.syncPageLimit;
    const picked = new Map<string, CommitWithEntry>();
    let after = Number(p.from);
    let bytes = 0;
    outer: for (;;) {
      const page = ctx.keys.store.commitsWithEntriesSince(after, READ_PAGE);
      for (const c of page) {
        after = c.id;
        if (!isSyncedKey(c.key) || !mayAccess(s, c.key, false)) continue;
        if (regex && !regex.test(c.key) && !alwaysIncluded(c.key)) continue;
        if (c.operation !== "delete" && c.entry === null) continue;
        picked.delete(c.key);
        picked.set(c.key, c);
        bytes += c.key.length + (c.entry?.value?.length ?? 0);
        if (picked.size >= limit || bytes >= BUFFER_BYTES) break outer;
      }
      if (page.length < READ_PAGE) break;
    }
    const items = [...picked.values()]
      .sort((a, b) => a.id - b.id)
      .map((c) => {
        const isDelete = c.operation === "delete";
        const meta =
          !isDelete && c.entry
            ? metadataSyncJson(c.entry.metadata as unknown as StoredMetadata)
            : null;
        return {
          atKey: c.key,
          value: isDelete ? null : (c.entry?.value ?? null),
          metadata: meta,
          commitId: c.id,
          operation: OPS[c.operation],
        };
      });
    return JSON.stringify(items);
  },
};
