import type { CommitEntry, CommitOperation, CommitWithEntry, StoredEntry } from "./types";

// Row shapes as SQLite returns them, and their conversion to the public types.

export interface EntryRow {
  key: string;
  value: string | null;
  metadata: string;
  expires_at: number | null;
  available_at: number | null;
  commit_id: number;
}

export interface CommitRow {
  id: number;
  key: string;
  operation: CommitOperation;
  at: number;
}

export type CommitJoinRow = CommitRow & {
  e_key: string | null;
  value: string | null;
  metadata: string | null;
  expires_at: number | null;
  available_at: number | null;
  commit_id: number | null;
};

export const ENTRY_COLUMNS = "key, value, metadata, expires_at, available_at, commit_id";

export function toEntry(row: EntryRow): StoredEntry {
  return {
    key: row.key,
    value: row.value,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    expiresAt: row.expires_at,
    availableAt: row.available_at,
    commitId: row.commit_id,
  };
}

export function toCommit(row: CommitRow): CommitEntry {
  return { id: row.id, key: row.key, operation: row.operation, at: row.at };
}

export function toCommitWithEntry(row: CommitJoinRow): CommitWithEntry {
  const entry =
    row.operation === "delete" || row.e_key === null || row.metadata === null
      ? null
      : toEntry({
          key: row.e_key,
          value: row.value,
          metadata: row.metadata,
          expires_at: row.expires_at,
          available_at: row.available_at,
          commit_id: row.commit_id ?? -1,
        });
  return { ...toCommit(row), entry };
}

/** Live = not expired and already available at `now`. */
export function isLive(
  row: { expires_at: number | null; available_at: number | null },
  now: number,
): boolean {
  return (
    (row.expires_at === null || row.expires_at > now) &&
    (row.available_at === null || row.available_at <= now)
  );
}
