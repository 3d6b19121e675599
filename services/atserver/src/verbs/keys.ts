// keys (Part B §3.28): an APKAM enrollment's own key material, stored unsynced.
import {
  AuthFailedError,
  IllegalArgumentsError,
  InternalServerException,
  KeyNotFoundError,
  type KeysParams,
  UnauthorizedError,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "../engine/session";
import type { VerbHandler } from "../engine/verb";
import { hasManage } from "../apkam/access";

const KEYS_AREA = /\.__(public|private|self)_keys\./;
const DEFAULT_KEY = /^([^.]+)\.default_(enc_private_key|self_enc_key)\.__manage@/;

/**
 * keys:get/delete by keyName reach only key material: the keys verb's own area and the
 * enrollments' default keys. An enrollment without `__manage` reads the area and its own
 * default keys, and deletes only what it put; with `__manage` rw it may manage all of them.
 */
function authorizeKeyName(ctx: ServerContext, s: Session, op: "get" | "delete", key: string) {
  const manager = hasManage(s, true);
  const def = DEFAULT_KEY.exec(key);
  let ok: boolean;
  if (def) ok = manager || def[1] === s.enrollmentId;
  else if (!KEYS_AREA.test(key)) ok = false;
  else if (op === "get" || manager) ok = true;
  else ok = putBy(ctx, key) === s.enrollmentId;
  if (!ok) {
    throw new UnauthorizedError(
      `Connection with enrollment ID ${s.enrollmentId} is not authorized to ${op} key: ${key}`,
    );
  }
}

function putBy(ctx: ServerContext, key: string): string | undefined {
  try {
    return (JSON.parse(ctx.keys.find(key)?.value ?? "{}") as { enrollmentId?: string })
      .enrollmentId;
  } catch {
    return undefined;
  }
}

function storageKey(ctx: ServerContext, p: KeysParams): string {
  const ns = p.namespace ?? "__global";
  const name = p.keyName;
  if (!name) throw new IllegalArgumentsError("keys:put needs a keyName");
  const a = ctx.atSign;
  if (p.visibility === "public") return `public:${name}.__public_keys.${ns}${a}`.toLowerCase();
  const device = `${p.appName ?? "app"}.${p.deviceName ?? "device"}`;
  if (p.visibility === "private")
    return `private:${device}.${name}.__private_keys.${ns}${a}`.toLowerCase();
  return `${device}.${name}.__self_keys.${ns}${a}`.toLowerCase();
}

function list(ctx: ServerContext, s: Session, visibility: string): string[] {
  const marker = `.__${visibility}_keys.`;
  const out: string[] = [];
  for (const key of ctx.keys.store.keys({ regex: new RegExp(marker.replace(/\./g, "\\.")) })) {
    if (putBy(ctx, key) === s.enrollmentId) out.push(key);
  }
  const a = ctx.atSign;
  if (visibility === "private") out.push(`${s.enrollmentId}.default_enc_private_key.__manage${a}`);
  if (visibility === "self") out.push(`${s.enrollmentId}.default_self_enc_key.__manage${a}`);
  return out;
}

export const keys: VerbHandler<KeysParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    if (!s.isOwner) throw new AuthFailedError("Command cannot be executed without auth");
    if (!s.enrollmentId)
      throw new InternalServerException("Keys verb cannot be accessed without an enrollmentId");
    if (p.op === "put") {
      if (p.value === undefined) throw new IllegalArgumentsError("keys:put needs a value");
      // The reference's record: every field present, null when not given.
      const record: Record<string, string | null> = {
        value: p.value,
        keyType: p.keyType ?? null,
        enrollmentId: s.enrollmentId,
        encryptionKeyName: p.encryptionKeyName ?? null,
      };
      ctx.keys.putUnsynced(storageKey(ctx, p), JSON.stringify(record));
      return "-1";
    }
    // Names are stored lower-cased (storageKey), so get and delete find them in any case.
    const name = p.keyName?.toLowerCase();
    if (p.op === "delete") {
      if (!name) throw new IllegalArgumentsError("keys:delete needs a keyName");
      authorizeKeyName(ctx, s, "delete", name);
      ctx.keys.delete(name);
      return "-1";
    }
    if (name) {
      authorizeKeyName(ctx, s, "get", name);
      const r = ctx.keys.active(name);
      if (!r) throw new KeyNotFoundError(name, `key ${p.keyName} not found in keystore`);
      return r.value ?? "null";
    }
    return JSON.stringify(list(ctx, s, p.visibility ?? "self"));
  },
};
