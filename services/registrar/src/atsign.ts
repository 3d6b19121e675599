import { createHash, randomInt } from "node:crypto";
import { BadRequestError } from "./errors";

// The wire allows any run of characters without ':', '@' or whitespace; the registrar is
// stricter so that names are safe in paths, HTML, the directory's file store and URLs.
// eslint-disable-next-line no-control-regex -- control characters are exactly what we reject
const FORBIDDEN = /[\s:@/\\'"<>&`%?#\u0000-\u001f\u007f]/u;
export const MAX_ATSIGN_LENGTH = 55;

/** Canonical form: NFC, lower-case, no leading '@'. Throws BadRequestError if invalid. */
export function normalizeAtSign(input: unknown): string {
  if (typeof input !== "string") throw new BadRequestError("atSign must be a string");
  const name = input.trim().replace(/^@/, "").normalize("NFC").toLowerCase();
  if (name.length === 0) throw new BadRequestError("atSign is empty");
  if ([...name].length > MAX_ATSIGN_LENGTH)
    throw new BadRequestError(`atSign longer than ${MAX_ATSIGN_LENGTH} characters`);
  if (FORBIDDEN.test(name) || name.includes("..") || name === ".")
    throw new BadRequestError("atSign contains characters that are not allowed");
  return name;
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
