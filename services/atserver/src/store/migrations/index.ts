import type { Database } from "better-sqlite3";
import { migration001 } from "./001-initial";
import { migration002 } from "./002-compact-commit-log";
import type { Migration } from "./migration";

export type { Migration } from "./migration";

/** All migrations, in order. Append new ones (e.g. notification tables); never edit old ones. */
export const MIGRATIONS: readonly Migration[] = [migration001, migration002];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/**
 * Brings the database to `target` (default: latest), one transaction per migration so that a
 * crash leaves it at a whole version. The version lives in SQLite's header (user_version),
 * which is written in the same transaction as the schema change. Returns the versions applied.
 */
export function migrate(
  db: Database,
  target = LATEST_SCHEMA_VERSION,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version > target || m.version <= schemaVersion(db)) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
