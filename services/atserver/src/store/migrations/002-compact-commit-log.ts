import type { Migration } from "./migration";

// Version 2: the commit log keeps only the latest commit per key. Ids come from a counter
// row, because with compaction MAX(id)+1 could hand out an id again after the newest row of
// a key is replaced. Also indexes expiry for the sweeper.
export const migration002: Migration = {
  version: 2,
  name: "compact-commit-log",
  up(db) {
    db.exec(`
      CREATE TABLE commit_sequence (
        singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 0),
        last_id INTEGER NOT NULL
      );
      INSERT INTO commit_sequence (singleton, last_id)
        VALUES (0, COALESCE((SELECT MAX(id) FROM commit_log), -1));
      DELETE FROM commit_log
        WHERE id NOT IN (SELECT MAX(id) FROM commit_log GROUP BY key);
      DROP INDEX commit_log_key;
      CREATE UNIQUE INDEX commit_log_key ON commit_log (key);
      CREATE INDEX entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;
    `);
  },
};
