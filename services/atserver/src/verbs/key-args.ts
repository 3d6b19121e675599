// Shared by update/update:meta/llookup/delete: the stored key a command names.
import {
  buildKey,
  InvalidKeyError,
  isKeyTooLong,
  maxKeyLength,
  normalizeAtSign,
  type ScopedKeyParams,
} from "@atplatform/protocol/src/core";

/** `[cached:][public:|@x:]<key><owner>`; the owner defaults to the server's atSign. */
export function keyOf(p: ScopedKeyParams & { cached?: boolean }, atSign: string): string {
  if (p.key.startsWith("privatekey:")) return p.key.toLowerCase();
  const key = buildKey({
    entity: p.key,
    scope: p.scope,
    owner: p.owner ?? atSign,
    cached: p.cached,
  });
  if (isKeyTooLong(key)) {
    throw new InvalidKeyError(
      `key length ${key.length} is greater than max allowed ${maxKeyLength(key)} chars`,
    );
  }
  return key;
}

/** Writers may only write their own keys (`sharedBy` must be this server's atSign). */
export function requireOwnOwner(owner: string | undefined, atSign: string, verb: string): void {
  if (owner !== undefined && normalizeAtSign(owner) !== atSign) {
    throw new InvalidKeyError(
      `Invalid ${verb} command - sharedBy atsign ${normalizeAtSign(owner)} should be same as current atsign ${atSign}`,
    );
  }
}
