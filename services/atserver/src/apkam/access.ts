// What an APKAM (enrollment-authenticated) connection may touch (Part B §5.4):
// - reads (llookup, lookup, notify:fetch/status/list, monitor, and the listings scan,
//   sync:from, stats) need `r` or `rw` on the key's namespace; writes (update, update:meta,
//   delete, notify, notify:all, notify:remove) need `rw`;
// - a granted namespace covers keys whose name ends with `.<namespace>` (`x.orders.app` is in
//   `orders.app`); the longest covering grant decides, `*` only when none covers the key;
// - keys without a namespace are covered by `*` alone;
// - keys in `__manage` are refused to every verb but otp, enroll and monitor (listings show
//   them under the usual grant rule, as the reference's scan does);
// - reserved keys are not exempt (the reference exempts them all, which let any enrollment read
//   the signing private key and replace the legacy PKAM key): see `reservedAccess`;
// - public keys are always readable.
// Connections without an enrollment (CRAM, legacy PKAM) may do everything.
import { parseKey, UnauthorizedError, type AtKey } from "@atplatform/protocol/src/core";
import type { Session } from "../engine/session";

export const MANAGE_NAMESPACE = "__manage";
export const ALL_NAMESPACES = "*";
export const LEGACY_PKAM_KEY = "privatekey:at_pkam_publickey";

/** Verbs for which `__manage` keys are usable at all (§5.4). */
const MANAGE_VERBS = new Set(["otp", "enroll", "monitor"]);
/** Verbs that only list key names or commit entries: `__manage` follows the grant rule. */
const LISTING_VERBS = new Set(["scan", "sync:from", "stats"]);

export type Grants = Readonly<Record<string, string>>;

/**
 * The grant covering `name` (a namespace, or a key entity with its namespace): the longest
 * granted namespace that `name` ends with (after a dot), else `*`, else none.
 */
export function coveringGrant(
  grants: Grants,
  name: string | undefined,
): { namespace: string; access: string } | undefined {
  let best: string | undefined;
  if (name !== undefined) {
    const dotted = `.${name}`;
    for (const g of Object.keys(grants)) {
      if (g === ALL_NAMESPACES) continue;
      if (dotted.endsWith(`.${g}`) && (best === undefined || g.length > best.length)) best = g;
    }
  }
  if (best !== undefined) return { namespace: best, access: grants[best]! };
  const all = grants[ALL_NAMESPACES];
  return all !== undefined ? { namespace: ALL_NAMESPACES, access: all } : undefined;
}

/** `rw` allows reads and writes, `r` reads only. */
export function allows(access: string | undefined, write: boolean): boolean {
  return access === "rw" || (!write && access === "r");
}

/** The enrollment holds `__manage` itself (`*` does not count): r for reads, rw for writes. */
export function hasManage(s: Session, write = false): boolean {
  if (s.auth !== "apkam" || !s.namespaces) return true;
  return allows(s.namespaces[MANAGE_NAMESPACE], write);
}

/**
 * The owner's own grant: `__manage` (r for reads, rw for writes) or `*:rw`. Required for the
 * reserved keys that make an app the owner (the key pairs, the CRAM secret, the block list).
 */
export function hasOwnerGrant(grants: Grants, write: boolean): boolean {
  return allows(grants[MANAGE_NAMESPACE], write) || grants[ALL_NAMESPACES] === "rw";
}

/**
 * Reserved keys on an enrolled connection: the `shared_key` keys are readable by all and
 * writable by an enrollment holding `rw` somewhere (an app that shares data creates them);
 * the public key pairs' public halves are readable by all (they are public anyway); everything
 * else (`privatekey:*`, the signing private key, the block list, `configkey`, `_x`) and any
 * write needs the owner's grant.
 */
function reservedAccess(grants: Grants, k: AtKey, write: boolean): boolean {
  if (k.text.includes("shared_key")) {
    return !write || Object.values(grants).some((a) => a === "rw");
  }
  if (!write && k.isPublic) return true;
  return hasOwnerGrant(grants, write);
}

/**
 * May this connection run `verb` (a read, or a write) on `key`? `verb` defaults to a listing
 * (scan, sync:from, stats), the callers that filter instead of refusing.
 */
export function mayAccess(s: Session, key: string, write: boolean, verb = "scan"): boolean {
  if (s.auth !== "apkam") return true;
  const k = parseKey(key);
  // Whoever writes it logs in by legacy PKAM as the unrestricted owner: never from an enrollment.
  if (write && k.text === LEGACY_PKAM_KEY) return false;
  const grants = s.namespaces;
  if (!grants) return true;
  if (k.reserved) return reservedAccess(grants, k, write);
  if (k.namespace === MANAGE_NAMESPACE && !MANAGE_VERBS.has(verb) && !LISTING_VERBS.has(verb)) {
    return false;
  }
  if (!write && k.isPublic) return true;
  const name = k.namespace !== undefined ? k.entity : undefined;
  return allows(coveringGrant(grants, name)?.access, write);
}

/**
 * Throws AT0009 unless the connection holds `*` (r to read, rw to write): for what belongs to
 * no namespace, like text notifications or the server's settings.
 */
export function authorizeUnscoped(s: Session, what: string, write: boolean): void {
  if (s.auth !== "apkam" || !s.namespaces) return;
  if (!allows(s.namespaces[ALL_NAMESPACES], write)) {
    throw new UnauthorizedError(
      `Connection with enrollment ID ${s.enrollmentId} is not authorized to ${what}`,
    );
  }
}

/** Throws AT0009 unless the connection may run `verb` on `key`. */
export function authorize(s: Session, key: string, verb: string, write: boolean): void {
  if (!mayAccess(s, key, write, verb)) {
    throw new UnauthorizedError(
      `Connection with enrollment ID ${s.enrollmentId} is not authorized to ${verb} key: ${key}`,
    );
  }
}
