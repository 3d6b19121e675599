// The key naming model (Part B §4.1, §4.2): classify stored key strings, build them, and
// answer the questions the server asks about a key (reserved? protected? synced? hidden?).

export type AtKeyType =
  | "publicKey"
  | "selfKey"
  | "sharedKey"
  | "privateKey"
  | "cachedPublicKey"
  | "cachedSharedKey"
  | "localKey"
  | "reservedKey"
  | "invalidKey";

export interface AtKey {
  /** Canonical stored form (lower-case, no spaces). */
  text: string;
  type: AtKeyType;
  /** Entity name without prefixes or owner, e.g. `phone.wavi`. */
  entity: string;
  /** Owner with `@` (absent for `privatekey:` and similar atSign-less reserved keys). */
  owner?: string;
  /** `@bob` for shared keys (and `@alice` for `@alice:x@alice`). */
  sharedWith?: string;
  cached: boolean;
  isPublic: boolean;
  /** Text after the entity's last `.`. */
  namespace?: string;
  /** Entity starts with `_`. */
  hidden: boolean;
  reserved: boolean;
}

// Letters, marks, digits, `_ . - ' * "` and emoji (with joiners/selectors).
const ENTITY_RE =
  /^(?:[\p{L}\p{M}\p{N}_.\-'*"\p{Extended_Pictographic}\p{Emoji_Component}]|\u200d)+$/u;
const ATSIGN_BODY_RE =
  /^(?:[\p{L}\p{M}\p{N}_\-\p{Extended_Pictographic}\p{Emoji_Component}]|\u200d)+$/u;
const KEY_RE = /^(cached:)?(public:|private:|local:|@([^:@\s]+):)?([^@]+)@([^:@\s]+)$/u;

const RESERVED_PRIVATEKEYS = new Set([
  "privatekey:at_pkam_publickey",
  "privatekey:at_pkam_privatekey",
  "privatekey:privatekey",
  "privatekey:self_encryption_key",
  "privatekey:at_secret",
  "privatekey:at_secret_deleted",
  "privatekey:signing_keypair_generated",
  "privatekey:commitlogcompactionstats",
  "privatekey:accesslogcompactionstats",
  "privatekey:notificationcompactionstats",
]);

/** Lower-case, spaces removed. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/ /g, "");
}

/** `alice`, `@Alice` → `@alice`. */
export function normalizeAtSign(atSign: string): string {
  const s = atSign.trim().toLowerCase();
  return s.startsWith("@") ? s : `@${s}`;
}

export function isValidAtSign(atSign: string): boolean {
  const body = atSign.startsWith("@") ? atSign.slice(1) : atSign;
  const len = [...body].length;
  return len >= 1 && len <= 55 && ATSIGN_BODY_RE.test(body);
}

function isReservedText(k: string): boolean {
  if (RESERVED_PRIVATEKEYS.has(k) || k === "configkey") return true;
  if (/^_[^@:]+$/.test(k)) return true;
  return (
    /^private:blocklist@[^:@]+$/.test(k) ||
    /^public:signing_publickey@[^:@]+$/.test(k) ||
    /^public:publickey@[^:@]+$/.test(k) ||
    /^@([^:@]+):signing_privatekey@\1$/.test(k) ||
    /^@[^:@]+:shared_key@[^:@]+$/.test(k) ||
    /^shared_key\.[^:@]+@[^:@]+$/.test(k)
  );
}

/** Classifies a key string (normalized first). Never throws: bad keys are `invalidKey`. */
export function parseKey(raw: string): AtKey {
  const text = normalizeKey(raw);
  const reserved = isReservedText(text);
  const base: AtKey = {
    text,
    type: "invalidKey",
    entity: text,
    cached: false,
    isPublic: false,
    hidden: false,
    reserved,
  };
  const m = KEY_RE.exec(text);
  if (!m) {
    if (reserved) return { ...base, type: "reservedKey", hidden: text.startsWith("_") };
    return base;
  }
  const [, cached, scope, sharedBody, entity, ownerBody] = m as unknown as [
    string,
    string | undefined,
    string | undefined,
    string | undefined,
    string,
    string,
  ];
  const owner = `@${ownerBody}`;
  const sharedWith = sharedBody !== undefined ? `@${sharedBody}` : undefined;
  const dot = entity.lastIndexOf(".");
  const key: AtKey = {
    ...base,
    entity,
    owner,
    sharedWith,
    cached: cached !== undefined,
    isPublic: scope === "public:",
    namespace: dot >= 0 && dot < entity.length - 1 ? entity.slice(dot + 1) : undefined,
    hidden: entity.startsWith("_"),
  };
  const validNames =
    ENTITY_RE.test(entity) &&
    isValidAtSign(ownerBody) &&
    (sharedBody === undefined || isValidAtSign(sharedBody));
  if (reserved) return { ...key, type: "reservedKey" };
  if (!validNames) return key;
  if (key.cached) {
    if (scope === "public:") return { ...key, type: "cachedPublicKey" };
    if (sharedWith !== undefined) return { ...key, type: "cachedSharedKey" };
    return key;
  }
  if (scope === "public:") return { ...key, type: "publicKey" };
  if (scope === "private:") return { ...key, type: "privateKey" };
  if (scope === "local:") return { ...key, type: "localKey" };
  if (sharedWith !== undefined && sharedWith !== owner) return { ...key, type: "sharedKey" };
  return { ...key, type: "selfKey" };
}

export interface KeyParts {
  entity: string;
  owner?: string;
  /** `public` or an atSign (`@bob`). */
  scope?: string;
  cached?: boolean;
}

/** `[cached:][public:|@bob:]<entity>[@owner]`, normalized. */
export function buildKey(p: KeyParts): string {
  let s = p.cached ? "cached:" : "";
  if (p.scope) {
    const scope = p.scope.toLowerCase() === "public" ? "public" : normalizeAtSign(p.scope);
    s += `${scope}:`;
  }
  s += p.entity;
  if (p.owner) s += normalizeAtSign(p.owner);
  return normalizeKey(s);
}

/** Keys the server refuses to delete (unless cached copies). */
export function isProtectedKey(key: string, atSign: string): boolean {
  const k = normalizeKey(key);
  const a = normalizeAtSign(atSign);
  return (
    k === `public:signing_publickey${a}` ||
    k === `${a}:signing_privatekey${a}` ||
    k === `public:publickey${a}`
  );
}

/** Written to the commit log (synced to clients)? Returns false for server-private keys. */
export function isSyncedKey(key: string): boolean {
  const k = normalizeKey(key);
  if (k.startsWith("private:") || k.startsWith("privatekey:") || k.startsWith("local:"))
    return false;
  if (k.startsWith("public:_") && !k.startsWith("public:__")) return false;
  return true;
}

/** Max key length: 248 characters, 255 for `cached:` keys. */
export function maxKeyLength(key: string): number {
  return key.startsWith("cached:") ? 255 : 248;
}

export function isKeyTooLong(key: string): boolean {
  return key.length > maxKeyLength(key);
}
