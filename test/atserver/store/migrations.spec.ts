import Database from "better-sqlite3";
import { expect } from "chai";
import {
  KeyStore,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  StoreVersionError,
  dbPath,
  migrate,
  schemaVersion,
} from "../../../services/atserver/src/store";
import { TempStores } from "./fixtures/temp-store";

describe("atserver store: schema migrations", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  it("migrations are numbered 1..N without gaps", () => {
    expect(MIGRATIONS.map((m) => m.version)).to.deep.equal(MIGRATIONS.map((_m, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).to.equal(MIGRATIONS.length);
  });

  it("a new store is at the latest version", () => {
    const dir = temp.dir();
    KeyStore.open(dir).close();
    const db = new Database(dbPath(dir), { readonly: true });
    try {
      expect(schemaVersion(db)).to.equal(LATEST_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it("opens a store created at version 1: compacts its log and keeps ids monotonic", () => {
    const dir = temp.dir();
    const v1 = new Database(dbPath(dir));
    expect(migrate(v1, 1)).to.deep.equal([1]);
    const entry = v1.prepare(
      "INSERT INTO entries (key, value, metadata, expires_at, available_at, commit_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const commit = v1.prepare(
      "INSERT INTO commit_log (id, key, operation, at) VALUES (?, ?, ?, ?)",
    );
    entry.run("a@alice", "a2", '{"version":1}', null, null, 2);
    entry.run("b@alice", "b0", "{}", 4_000_000_000_000, null, 1);
    commit.run(0, "a@alice", "update", 10);
    commit.run(1, "b@alice", "update", 11);
    commit.run(2, "a@alice", "update", 12);
    commit.run(3, "c@alice", "update", 13);
    commit.run(4, "c@alice", "delete", 14);
    v1.prepare("INSERT INTO settings (name, value) VALUES ('cram_disabled', 'true')").run();
    v1.close();

    const s = temp.open(dir);
    expect(s.get("a@alice")).to.deep.include({ value: "a2", commitId: 2 });
    expect(s.get("a@alice")?.metadata).to.deep.equal({ version: 1 });
    expect(s.get("b@alice")?.expiresAt).to.equal(4_000_000_000_000);
    expect(s.getSetting("cram_disabled")).to.equal("true");
    expect(s.commitsSince(-1)).to.deep.equal([
      { id: 1, key: "b@alice", operation: "update", at: 11 },
      { id: 2, key: "a@alice", operation: "update", at: 12 },
      { id: 4, key: "c@alice", operation: "delete", at: 14 },
    ]);
    expect(s.lastCommitId()).to.equal(4);
    expect(s.put("a@alice", "a3", {})).to.equal(5);
    s.close();
    const db = new Database(dbPath(dir), { readonly: true });
    try {
      expect(schemaVersion(db)).to.equal(LATEST_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it("a failing migration leaves the store at the previous whole version", () => {
    const db = new Database(":memory:");
    try {
      const broken = [
        ...MIGRATIONS,
        {
          version: MIGRATIONS.length + 1,
          name: "broken",
          up(d: Database.Database) {
            d.exec("CREATE TABLE notifications (id TEXT PRIMARY KEY)");
            throw new Error("boom");
          },
        },
      ];
      expect(() => migrate(db, Infinity, broken)).to.throw("boom");
      expect(schemaVersion(db)).to.equal(LATEST_SCHEMA_VERSION);
      const t = db
        .prepare("SELECT name FROM sqlite_master WHERE name = 'notifications'")
        .get() as unknown;
      expect(t).to.equal(undefined);
    } finally {
      db.close();
    }
  });

  it("refuses a store written by a newer schema version", () => {
    const dir = temp.dir();
    KeyStore.open(dir).close();
    const db = new Database(dbPath(dir));
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => KeyStore.open(dir)).to.throw(StoreVersionError);
    // The refused open released its lock.
    const db2 = new Database(dbPath(dir), { timeout: 0 });
    try {
      db2.exec("BEGIN IMMEDIATE; COMMIT");
    } finally {
      db2.close();
    }
  });
});
