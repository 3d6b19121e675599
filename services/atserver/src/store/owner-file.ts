import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import type { StoreOwner } from "./errors";
import { ownerPath } from "./layout";

// The owner file only names the last process that took the lock, for the error message an
// operator sees; the SQLite lock itself is what excludes. A stale file (after kill -9) is
// harmless and is overwritten by the next owner.

export function writeOwner(dir: string, openedAt: number): void {
  const owner: StoreOwner = { pid: process.pid, host: hostname(), openedAt };
  writeFileSync(ownerPath(dir), `${JSON.stringify(owner)}\n`, { mode: 0o600 });
}

export function readOwner(dir: string): StoreOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerPath(dir), "utf8")) as Partial<StoreOwner>;
    if (typeof o.pid === "number" && typeof o.host === "string" && typeof o.openedAt === "number") {
      return { pid: o.pid, host: o.host, openedAt: o.openedAt };
    }
  } catch {
    // absent or unreadable: no holder to report
  }
  return undefined;
}

export function removeOwner(dir: string): void {
  rmSync(ownerPath(dir), { force: true });
}
