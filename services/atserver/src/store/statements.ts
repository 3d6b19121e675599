import type { Database, Statement } from "better-sqlite3";
import { ENTRY_COLUMNS, type CommitJoinRow, type CommitRow, type EntryRow } from "./rows";

export interface EntryParams {
  key: string;
  value: string | null;
  metadata: string;
  expiresAt: number | null;
  availableAt: number | null;
  commitId: number;
}

// Every statement the store runs, prepared once per open.
export function prepareStatements(db: Database) {
  return {
    getEntry: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE key = ?`) as Statement<
      [string],
      EntryRow
    >,
    upsertEntry: db.prepare(
      `INSERT INTO entries (${ENTRY_COLUMNS})
         VALUES (@key, @value, @metadata, @expiresAt, @availableAt, @commitId)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata,
         expires_at = excluded.expires_at, available_at = excluded.available_at,
         commit_id = excluded.commit_id`,
    ) as Statement<[EntryParams]>,
    updateMeta: db.prepare(
      `UPDATE entries SET metadata = @metadata, expires_at = @expiresAt,
         available_at = @availableAt, commit_id = @commitId WHERE key = @key`,
    ) as Statement<[Omit<EntryParams, "value">]>,
    deleteEntry: db.prepare(`DELETE FROM entries WHERE key = ?`) as Statement<[string]>,
    nextCommitId: db.prepare(
      `UPDATE commit_sequence SET last_id = last_id + 1 RETURNING last_id`,
    ) as Statement<[], { last_id: number }>,
    lastCommitId: db.prepare(`SELECT last_id FROM commit_sequence`) as Statement<
      [],
      { last_id: number }
    >,
    logCommit: db.prepare(
      `INSERT INTO commit_log (id, key, operation, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET id = excluded.id, operation = excluded.operation,
         at = excluded.at`,
    ) as Statement<[number, string, string, number]>,
    commitsSince: db.prepare(
      `SELECT id, key, operation, at FROM commit_log WHERE id > ? ORDER BY id LIMIT ?`,
    ) as Statement<[number, number], CommitRow>,
    commitsWithEntriesSince: db.prepare(
      `SELECT c.id, c.key, c.operation, c.at, e.key AS e_key, e.value, e.metadata,
         e.expires_at, e.available_at, e.commit_id
       FROM commit_log c LEFT JOIN entries e ON e.key = c.key
       WHERE c.id > ? ORDER BY c.id LIMIT ?`,
    ) as Statement<[number, number], CommitJoinRow>,
    liveKeysAfter: db.prepare(
      `SELECT key FROM entries
       WHERE key > @after
         AND (expires_at IS NULL OR expires_at > @now)
         AND (available_at IS NULL OR available_at <= @now)
       ORDER BY key LIMIT @limit`,
    ) as Statement<[{ after: string; now: number; limit: number }], { key: string }>,
    expiredKeys: db.prepare(
      `SELECT key FROM entries WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`,
    ) as Statement<[number, number], { key: string }>,
    pruneTombstones: db.prepare(
      `DELETE FROM commit_log WHERE operation = 'delete' AND at < ?`,
    ) as Statement<[number]>,
    getSetting: db.prepare(`SELECT value FROM settings WHERE name = ?`) as Statement<
      [string],
      { value: string }
    >,
    setSetting: db.prepare(
      `INSERT INTO settings (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    ) as Statement<[string, string]>,
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
