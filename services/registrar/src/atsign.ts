import { createHash, randomInt } from "node:crypto";
import { atSignBody, InvalidAtSignError } from "@atplatform/protocol/src/core";
import { BadRequestError } from "./errors";

export { MAX_ATSIGN_LENGTH } from "@atplatform/protocol/src/core";

/**
 * Canonical form (NFC, lower-case, no leading '@') under the grammar the atServer enforces
 * too, so every name handed out can be served. Throws BadRequestError if invalid.
 */
export function normalizeAtSign(input: unknown): string {
  if (typeof input !== "string") throw new BadRequestError("atSign must be a string");
  try {
    return atSignBody(input);
  } catch (err) {
    if (err instanceof InvalidAtSignError) throw new BadRequestError(err.message);
    throw err;
  }
}

/** Whether a stored name is one the atServer will serve. */
export function isServableAtSign(atsign: string): boolean {
  try {
    return atSignBody(atsign) === atsign;
  } catch {
    return false;
  }
}

export function withAt(atsign: string): string {
  return `@${atsign}`;
}

/** Two-level sharded directory name for an atSign: `<2 hex>/<sha256 hex>`. */
export function shardedPath(atsign: string): string {
  const h = createHash("sha256").update(atsign).digest("hex");
  return `${h.slice(0, 2)}/${h}`;
}

const ADJECTIVES = [
  "amber",
  "brave",
  "calm",
  "clever",
  "cosmic",
  "crisp",
  "daring",
  "eager",
  "gentle",
  "golden",
  "happy",
  "jolly",
  "keen",
  "lucky",
  "mellow",
  "nimble",
  "proud",
  "quiet",
  "rapid",
  "silver",
  "sunny",
  "swift",
  "tidy",
  "vivid",
  "witty",
  "zesty",
];
const NOUNS = [
  "badger",
  "comet",
  "falcon",
  "fern",
  "harbor",
  "heron",
  "lantern",
  "maple",
  "meadow",
  "otter",
  "panda",
  "pebble",
  "pine",
  "quartz",
  "raven",
  "river",
  "robin",
  "sparrow",
  "spruce",
  "summit",
  "tiger",
  "tulip",
  "walrus",
  "willow",
  "wren",
  "zebra",
];

/** A random, human-friendly candidate name such as `swiftotter42`. */
export function randomAtSign(): string {
  const a = ADJECTIVES[randomInt(ADJECTIVES.length)]!;
  const n = NOUNS[randomInt(NOUNS.length)]!;
  return `${a}${n}${randomInt(10, 1000)}`;
}
