// What an APKAM (enrollment-authenticated) connection may touch (Part B §5.4): reads need
// r or rw on the key's namespace, writes rw; `*` grants all; reserved keys are exempt;
// public keys are always readable; keys without a namespace need `*`.
import { parseKey, UnauthorizedError } from "@atplatform/protocol/src/core";
import type { Session } from "../engine/session";

function matches(ns: string, granted: string): boolean {
  return ns === granted || ns.endsWith(`.${granted}`);
}

export function mayAccess(s: Session, key: string, write: boolean): boolean {
  const ns = s.namespaces;
  if (s.auth !== "apkam" || !ns) return true;
  if (ns["*"] === "rw" || (!write && ns["*"] === "r")) return true;
  const k = parseKey(key);
  if (k.reserved) return true;
  if (!write && k.isPublic) return true;
  const keyNs = k.namespace;
  if (!keyNs) return false;
  for (const [granted, mode] of Object.entries(ns)) {
    if (granted === "*" || granted === "__manage") continue;
    if (matches(keyNs, granted) && (mode === "rw" || (!write && mode === "r"))) return true;
  }
  return false;
}

/** Throws AT0009 unless the connection may run `verb` on `key`. */
export function authorize(s: Session, key: string, verb: string, write: boolean): void {
  if (!mayAccess(s, key, write)) {
    throw new UnauthorizedError(
      `Connection with enrollment ID ${s.enrollmentId} is not authorized to ${verb} key: ${key}`,
    );
  }
}
