// The verb registry: protocol verb name → handler. Verbs not listed answer AT0003.
import type { VerbHandler } from "../engine/verb";
import { cram, from, pkam, pol } from "./auth";
import { configBlock, configBlockShow, configSetting } from "./config";
import { del } from "./delete";
import { info, noop } from "./info";
import { llookup, lookup, plookup } from "./lookup";
import { monitor } from "./monitor";
import { enroll, otp } from "./enroll";
import { keys } from "./keys";
import { notify, notifyAll, notifyFetch, notifyList, notifyRemove, notifyStatus } from "./notify";
import { scan } from "./scan";
import { stats } from "./stats";
import { syncFrom } from "./sync";
import { update, updateMeta } from "./update";
import { Dispatcher } from "../engine/dispatch";
import type { ServerContext } from "../context";

/** `config` has three grammars; the dispatcher hands over the grammar's params. */
const config: VerbHandler = {
  access: ["A"],
  handle(ctx, s, p: Record<string, unknown>) {
    if (p.atSigns !== undefined) return configBlock.handle(ctx, s, p as never);
    if (p.op !== undefined) return configSetting.handle(ctx, s, p as never);
    return configBlockShow.handle(ctx, s, p as never);
  },
};

export const HANDLERS: Readonly<Record<string, VerbHandler>> = {
  from,
  cram,
  pkam,
  pol,
  update,
  "update:meta": updateMeta,
  llookup,
  lookup,
  plookup,
  delete: del,
  scan,
  stats,
  config,
  monitor,
  "sync:from": syncFrom,
  info,
  noop,
  enroll,
  otp,
  keys,
  notify,
  "notify:all": notifyAll,
  "notify:list": notifyList,
  "notify:status": notifyStatus,
  "notify:fetch": notifyFetch,
  "notify:remove": notifyRemove,
  // Handled by the dispatcher itself (it needs to run nested commands).
  batch: { access: ["A"], handle: () => "" },
};

export function createDispatcher(
  ctx: ServerContext,
  extra: Record<string, VerbHandler> = {},
): Dispatcher {
  return new Dispatcher(ctx, { ...HANDLERS, ...extra });
}
