// config (Part B §3.23): the block list, and run-time settings in testing mode.
import {
  InternalServerError,
  normalizeAtSign,
  type ConfigBlockParams,
  type ConfigSettingParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { VerbHandler } from "../engine/verb";
import { UNSUPPORTED_SETTINGS } from "../runtime-settings";

export function blocklistKey(atSign: string): string {
  return `private:blocklist${atSign}`;
}

export function readBlocklist(ctx: ServerContext): string[] {
  const v = ctx.keys.find(blocklistKey(ctx.atSign))?.value;
  if (!v) return [];
  try {
    const list = (JSON.parse(v) as { blockList?: unknown }).blockList;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function writeBlocklist(ctx: ServerContext, list: string[]): void {
  ctx.keys.put(blocklistKey(ctx.atSign), JSON.stringify({ blockList: list }));
}

export const configBlock: VerbHandler<ConfigBlockParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    const given = p.atSigns
      .split(" ")
      .map(normalizeAtSign)
      .filter((a) => a !== ctx.atSign);
    const current = readBlocklist(ctx);
    if (p.op === "add") {
      const next = [...current];
      for (const a of given) if (!next.includes(a)) next.push(a);
      if (next.length !== current.length) writeBlocklist(ctx, next);
      return "success";
    }
    if (current.length === 0) return "null";
    writeBlocklist(
      ctx,
      current.filter((a) => !given.includes(a)),
    );
    return "success";
  },
};

export const configBlockShow: VerbHandler<Record<string, never>> = {
  access: ["A"],
  handle(ctx) {
    const list = readBlocklist(ctx);
    return list.length === 0 ? "null" : JSON.stringify(list);
  },
};

export const configSetting: VerbHandler<ConfigSettingParams> = {
  access: ["A"],
  handle(ctx, _s, p) {
    if (!ctx.config.testingMode) return "testing mode disabled by default";
    if (UNSUPPORTED_SETTINGS.has(p.name)) {
      throw new InternalServerError(`config name ${p.name} is not supported by this atServer`);
    }
    if (!ctx.runtime.has(p.name)) throw new InternalServerError(`unknown config name ${p.name}`);
    if (p.op === "print") return ctx.runtime.get(p.name);
    if (p.op === "reset") ctx.runtime.reset(p.name);
    else {
      if (p.value === undefined)
        throw new InternalServerError(`config:set:${p.name} needs =<value>`);
      const invalid = ctx.runtime.invalid(p.name, p.value);
      if (invalid) throw new InternalServerError(`config:set:${p.name} needs ${invalid}`);
      ctx.runtime.set(p.name, p.value);
    }
    return "ok";
  },
};
