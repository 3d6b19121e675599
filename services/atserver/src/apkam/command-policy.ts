// Namespace checks for the verbs whose key is not in the command line (Part B §5.4): the
// notify companions name a stored notification by id, notify:all names several recipients,
// notify:list and monitor replay return notifications. The dispatcher calls these for
// APKAM connections only; the verbs themselves stay unaware of enrollments.
import type { NotifyAllParams } from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import { authorize, authorizeUnscoped, mayAccess } from "./access";

/** notify:<op>:<id> verbs: the wire label of the refusal (the reference's) and whether the op writes. */
const BY_ID: Readonly<Record<string, { label: string; write: boolean }>> = {
  "notify:fetch": { label: "fetch notify", write: false },
  "notify:status": { label: "fetch notify", write: false },
  "notify:remove": { label: "remove notify", write: true },
};

/** Throws AT0009 when an APKAM connection may not run this command (before the handler). */
export function checkCommand(
  ctx: ServerContext,
  s: Session,
  verb: string,
  params: Record<string, unknown>,
): void {
  if (s.auth !== "apkam" || !s.namespaces) return;
  const byId = BY_ID[verb];
  if (byId) {
    // An unknown id answers as for anyone (expired/null/success): nothing to protect.
    const n = ctx.notifications?.store.get(String(params.id));
    if (n) authorize(s, n.key, byId.label, byId.write);
    return;
  }
  if (verb === "config") {
    // The block list and settings belong to the whole atServer, like a key without a
    // namespace: `*` decides (r for block:show and print, rw for the rest).
    const op = (params as { op?: string }).op;
    authorizeUnscoped(s, "use config", op !== undefined && op !== "print");
    return;
  }
  if (verb === "notify:all") {
    const p = params as unknown as NotifyAllParams;
    // A text message has no key, hence no namespace: `*` decides.
    if (p.messageType === "text") return authorizeUnscoped(s, "send text notifications", true);
    for (const to of p.to.split(","))
      authorize(s, `${to}:${p.key}${p.from ?? ctx.atSign}`, "notify", true);
  }
}

/** Drops the notifications an APKAM connection may not read from a notify:list answer. */
export function filterResult(s: Session, verb: string, data: string): string {
  if (verb !== "notify:list" || s.auth !== "apkam" || !s.namespaces || data === "null") {
    return data;
  }
  const list = JSON.parse(data) as Array<{ key: string }>;
  const kept = list.filter((n) => mayAccess(s, n.key, false, "notify:list"));
  return kept.length === 0 ? "null" : JSON.stringify(kept);
}

/** Monitor lines (`notification: <json>\n`) an APKAM connection may receive. */
export function mayReceive(s: Session, key: string): boolean {
  return mayAccess(s, key, false, "monitor");
}
