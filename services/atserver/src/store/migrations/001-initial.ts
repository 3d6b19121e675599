import type { Migration } from "./migration";

// Version 1: entries, an append-only commit log and settings.
export const migration001: Migration = {
  version: 1,
  name: "initial",
  up(db) {
    db.exec(`
      CREATE TABLE entries (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT,
        metadata TEXT NOT NULL,
        expires_at INTEGER,
        available_at INTEGER,
        commit_id INTEGER NOT NULL
      );
      CREATE TABLE commit_log (
        id INTEGER NOT NULL PRIMARY KEY,
        key TEXT NOT NULL,
        operation TEXT NOT NULL CHECK (operation IN ('update', 'delete', 'update_meta')),
        at INTEGER NOT NULL
      );
      CREATE INDEX commit_log_key ON commit_log (key);
      CREATE TABLE settings (
        name TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
  },
};
