// Keys files are never replaced silently: they may be the only copy of an atSign's keys.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { formatAtKeys, type AtKeys } from "@atplatform/protocol/src/core";

export class KeysFileExistsError extends Error {
  override name = "KeysFileExistsError";
  constructor(readonly file: string) {
    super(
      `refusing to overwrite ${file}: it may be the only copy of those keys; ` +
        "move it away, choose another --keys DIR, or pass --force (the old file is kept as .bak)",
    );
  }
}

/** Refuses, or with --force moves the old file aside (never deleted). */
export function makeRoomForKeys(file: string, force: boolean): string | undefined {
  if (!existsSync(file)) return undefined;
  if (!force) throw new KeysFileExistsError(file);
  const backup = `${file}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
  renameSync(file, backup);
  return backup;
}

/** Writes a new keys file (0600, exclusive); with `force` an old one is moved aside first. */
export function writeNewKeysFile(
  file: string,
  keys: AtKeys,
  force: boolean,
  out: (line: string) => void,
): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const backup = makeRoomForKeys(file, force);
  if (backup) out(`--force: the previous keys file is now ${backup}`);
  writeFileSync(file, formatAtKeys(keys), { mode: 0o600, flag: "wx" });
}
