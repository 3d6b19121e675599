// Numbered migrations, applied in order inside one transaction each; user_version records
// how far a database has come.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE atsigns (
    atsign TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    email TEXT,
    activation_key TEXT,
    cram_secret TEXT,
    swarm TEXT,
    port INTEGER,
    host TEXT,
    move_to TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX atsigns_email ON atsigns(email);
  CREATE INDEX atsigns_state ON atsigns(state);
  -- One row per placed atServer: a (swarm, port) pair can never be handed out twice,
  -- and an atSign can never hold two placements.
  CREATE TABLE placements (
    swarm TEXT NOT NULL,
    port INTEGER NOT NULL,
    atsign TEXT NOT NULL UNIQUE REFERENCES atsigns(atsign),
    PRIMARY KEY (swarm, port)
  );
  CREATE TABLE otps (
    email TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, purpose)
  );
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    atsign TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT
  );
  `,
  // Per-atSign memory override for orchestrators that enforce limits (Swarm: 50 MB default).
  `ALTER TABLE atsigns ADD COLUMN memory_limit_mb INTEGER;`,
  // When an atSign entered its state (registrar_provisioning_oldest_seconds) without a scan.
  `CREATE INDEX events_atsign_kind ON events(atsign, kind, at);`,
  // Image roll-outs (rollout/): one row per roll-out, one per atServer in it, so a restarted
  // registrar resumes where it stopped. Onboarding and admin keys, stored as SHA-256 hashes
  // (the keys are random, 32 bytes: a slow hash adds nothing), with their retirement deadline.
  `
  CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    targets TEXT NOT NULL,
    batch INTEGER NOT NULL DEFAULT 0,
    stopped_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE rollout_items (
    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
    atsign TEXT NOT NULL,
    swarm TEXT NOT NULL,
    from_image TEXT NOT NULL,
    to_image TEXT NOT NULL,
    state TEXT NOT NULL,
    batch INTEGER,
    detail TEXT,
    PRIMARY KEY (rollout_id, atsign)
  );
  CREATE TABLE access_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    retired_at INTEGER
  );
  `,
];
