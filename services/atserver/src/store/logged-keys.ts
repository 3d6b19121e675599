import { isSyncedKey } from "@atplatform/protocol/src/core";

// Which keys go into the commit log: the protocol's one rule (atprotocol.md §7), so that what
// the store logs and what sync:from sends cannot drift apart. Server-private and client-local
// keys are never synced; `public:_x` is not either, but `public:__x` is.
export function isLoggedKey(key: string): boolean {
  return isSyncedKey(key);
}
