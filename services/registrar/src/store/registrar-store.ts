import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./schema";
import type { AtSignRecord, AtSignState, Session } from "./types";

interface Row {
  atsign: string;
  state: string;
  email: string | null;
  activation_key: string | null;
  cram_secret: string | null;
  swarm: string | null;
  port: number | null;
  host: string | null;
  move_to: string | null;
  generation: number;
  attempts: number;
  last_error: string | null;
  memory_limit_mb: number | null;
  created_at: number;
  updated_at: number;
}

function toRecord(r: Row): AtSignRecord {
  return {
    atsign: r.atsign,
    state: r.state as AtSignState,
    email: r.email,
    activationKey: r.activation_key,
    cramSecret: r.cram_secret,
    swarm: r.swarm,
    port: r.port,
    host: r.host,
    moveTo: r.move_to,
    generation: r.generation,
    attempts: r.attempts,
    lastError: r.last_error,
    memoryLimitMb: r.memory_limit_mb,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

class PortTakenError extends Error {}

/**
 * The database holds sessions, code hashes and undelivered CRAM secrets: 0600, set before
 * SQLite opens it (its -wal and -shm files take the database file's mode). An existing file
 * is chmod'ed, never opened here: closing a descriptor would drop this process's SQLite locks.
 */
function makePrivate(file: string): void {
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

export interface SwarmPorts {
  name: string;
  host: string;
  minPort: number;
  maxPort: number;
}

/**
 * The registrar's durable state: one SQLite file. Every state change is a compare-and-set
 * on (state, generation) so that a stale worker can never overwrite newer progress.
 */
export class RegistrarStore {
  /** Shared with the stores of other concerns in the same file (roll-outs, access keys). */
  readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ":memory:") {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      makePrivate(file);
    }
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    // Cleared secrets are overwritten on disk, not just unlinked from the b-tree.
    this.db.pragma("secure_delete = ON");
    this.migrate();
  }

  close(): void {
    this.db.close();
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  get(atsign: string): AtSignRecord | undefined {
    const row = this.db.prepare("SELECT * FROM atsigns WHERE atsign = ?").get(atsign) as
      Row | undefined;
    return row && toRecord(row);
  }

  /** Number of atSigns per state, counted in SQLite (no rows materialised). */
  countByState(): Record<string, number> {
    const rows = this.db
      .prepare("SELECT state, COUNT(*) AS n FROM atsigns GROUP BY state")
      .all() as {
      state: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** A trivial query: the database file is open and answering. */
  ping(): void {
    this.db.prepare("SELECT 1").get();
  }

  list(filter: { email?: string; states?: readonly AtSignState[] } = {}): AtSignRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.email !== undefined) {
      where.push("email = ?");
      args.push(filter.email);
    }
    if (filter.states) {
      where.push(`state IN (${filter.states.map(() => "?").join(",")})`);
      args.push(...filter.states);
    }
    const sql = `SELECT * FROM atsigns${where.length ? " WHERE " + where.join(" AND ") : ""} ORDER BY atsign`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toRecord);
  }

  /**
   * Reserves `atsign` (inserting it, or re-using a deleted row). Returns false if the name is
   * held by someone else. A reservation already held by the same email/key is returned as is.
   */
  reserve(
    atsign: string,
    opts: { email?: string; activationKey?: string; reservationTtlMs?: number },
  ): boolean {
    return this.db.transaction(() => {
      const now = Date.now();
      const existing = this.get(atsign);
      if (existing && existing.state !== "deleted") {
        if (existing.state !== "reserved") return false;
        if (opts.email !== undefined && existing.email === opts.email) return true;
        if (opts.activationKey !== undefined && existing.activationKey === opts.activationKey)
          return true;
        // A reservation nobody activated lapses (email or API key), so names cannot be squatted.
        if (existing.updatedAt >= now - (opts.reservationTtlMs ?? 3600_000)) return false;
      }
      if (existing) this.db.prepare("DELETE FROM atsigns WHERE atsign = ?").run(atsign);
      this.db
        .prepare(
          `INSERT INTO atsigns (atsign, state, email, activation_key, generation, created_at, updated_at)
           VALUES (?, 'reserved', ?, ?, ?, ?, ?)`,
        )
        .run(
          atsign,
          opts.email ?? null,
          opts.activationKey ?? null,
          existing ? existing.generation + 1 : 0,
          now,
          now,
        );
      this.event(atsign, "reserved", opts.email ?? "api");
      return true;
    })();
  }

  /** Moves a reserved atSign to `requested` with its CRAM secret; idempotent. */
  request(atsign: string, cramSecret: string): AtSignRecord {
    return this.db.transaction(() => {
      const rec = this.get(atsign);
      if (!rec) throw new Error(`unknown atSign ${atsign}`);
      if (rec.state === "reserved") {
        this.db
          .prepare(
            `UPDATE atsigns SET state = 'requested', cram_secret = ?, attempts = 0,
             last_error = NULL, updated_at = ? WHERE atsign = ? AND state = 'reserved'`,
          )
          .run(cramSecret, Date.now(), atsign);
        this.event(atsign, "requested");
      }
      return this.get(atsign)!;
    })();
  }

  /**
   * Hands out an active atSign's CRAM secret exactly once: it is cleared (with the activation
   * key) in the same transaction, so of concurrent callers only one gets it.
   */
  takeSecret(atsign: string): string | undefined {
    const secret = this.db.transaction(() => {
      const rec = this.get(atsign);
      if (!rec || rec.state !== "active" || rec.cramSecret === null) return undefined;
      this.db
        .prepare(
          `UPDATE atsigns SET cram_secret = NULL, activation_key = NULL, updated_at = ?
           WHERE atsign = ?`,
        )
        .run(Date.now(), atsign);
      this.event(atsign, "secret_delivered");
      return rec.cramSecret;
    })();
    // The old page version stays in the WAL until a checkpoint: copy back and truncate now.
    if (secret !== undefined) this.db.pragma("wal_checkpoint(TRUNCATE)");
    return secret;
  }

  /**
   * Compare-and-set transition. Returns the new record, or undefined if the row was no
   * longer in `from` (someone else moved it on).
   */
  transition(
    rec: AtSignRecord,
    to: AtSignState,
    fields: Partial<Pick<AtSignRecord, "cramSecret" | "moveTo">> & {
      bumpGeneration?: boolean;
    } = {},
  ): AtSignRecord | undefined {
    return this.db.transaction(() => {
      const sets = ["state = ?", "updated_at = ?", "attempts = 0", "last_error = NULL"];
      const args: unknown[] = [to, Date.now()];
      if (fields.cramSecret !== undefined) {
        sets.push("cram_secret = ?");
        args.push(fields.cramSecret);
      }
      if (fields.moveTo !== undefined) {
        sets.push("move_to = ?");
        args.push(fields.moveTo);
      }
      if (fields.bumpGeneration) sets.push("generation = generation + 1");
      const res = this.db
        .prepare(
          `UPDATE atsigns SET ${sets.join(", ")} WHERE atsign = ? AND state = ? AND generation = ?`,
        )
        .run(...args, rec.atsign, rec.state, rec.generation);
      if (res.changes !== 1) return undefined;
      this.event(rec.atsign, to);
      return this.get(rec.atsign);
    })();
  }

  /** Records a failed step (the state stays; the provisioner retries with back-off). */
  failed(atsign: string, error: string): void {
    this.db
      .prepare(
        "UPDATE atsigns SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE atsign = ?",
      )
      .run(error.slice(0, 500), Date.now(), atsign);
  }

  /** Provisioning gave up: state `failed` with the reason, and the placement is freed. */
  giveUp(atsign: string, error: string): AtSignRecord | undefined {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE atsigns SET state = 'failed', last_error = ?, swarm = NULL, port = NULL,
           host = NULL, updated_at = ? WHERE atsign = ?`,
        )
        .run(error.slice(0, 500), Date.now(), atsign);
      this.db.prepare("DELETE FROM placements WHERE atsign = ?").run(atsign);
      this.event(atsign, "failed", error.slice(0, 500));
      return this.get(atsign);
    })();
  }

  /** The lowest port of `swarm` no placement holds, skipping `skip`; undefined if none. */
  firstFreePort(swarm: SwarmPorts, skip: ReadonlySet<number> = new Set()): number | undefined {
    const used = new Set(
      (
        this.db.prepare("SELECT port FROM placements WHERE swarm = ?").all(swarm.name) as {
          port: number;
        }[]
      ).map((r) => r.port),
    );
    for (let p = swarm.minPort; p <= swarm.maxPort; p++) {
      if (!used.has(p) && !skip.has(p)) return p;
    }
    return undefined;
  }

  /**
   * Atomically gives `rec` the placement (swarm, port), replacing any it held, and moves it
   * to `allocated`. Returns "taken" if another atSign holds that port (the PRIMARY KEY
   * (swarm, port) makes a double allocation impossible even across processes), or
   * undefined if the atSign moved on meanwhile.
   */
  allocate(rec: AtSignRecord, swarm: SwarmPorts, port: number): AtSignRecord | "taken" | undefined {
    try {
      return this.allocateTx(rec, swarm, port);
    } catch (err) {
      if (err instanceof PortTakenError) return "taken";
      throw err;
    }
  }

  private allocateTx(rec: AtSignRecord, swarm: SwarmPorts, port: number): AtSignRecord | undefined {
    return this.db.transaction(() => {
      const current = this.get(rec.atsign);
      if (!current || current.state !== rec.state || current.generation !== rec.generation)
        return undefined;
      this.db.prepare("DELETE FROM placements WHERE atsign = ?").run(rec.atsign);
      const inserted = this.db
        .prepare("INSERT OR IGNORE INTO placements (swarm, port, atsign) VALUES (?, ?, ?)")
        .run(swarm.name, port, rec.atsign);
      if (inserted.changes !== 1) throw new PortTakenError();
      this.db
        .prepare(
          `UPDATE atsigns SET state = 'allocated', swarm = ?, port = ?, host = ?, move_to = NULL,
           attempts = 0, last_error = NULL, updated_at = ? WHERE atsign = ?`,
        )
        .run(swarm.name, port, swarm.host, Date.now(), rec.atsign);
      this.event(rec.atsign, "allocated", `${swarm.name}:${port}`);
      return this.get(rec.atsign);
    })();
  }

  /** Frees the placement and marks the atSign deleted. */
  markDeleted(rec: AtSignRecord): AtSignRecord | undefined {
    return this.db.transaction(() => {
      const res = this.db
        .prepare(
          `UPDATE atsigns SET state = 'deleted', cram_secret = NULL, activation_key = NULL,
           swarm = NULL, port = NULL, host = NULL, attempts = 0, last_error = NULL, updated_at = ?
           WHERE atsign = ? AND state = ? AND generation = ?`,
        )
        .run(Date.now(), rec.atsign, rec.state, rec.generation);
      if (res.changes !== 1) return undefined;
      this.db.prepare("DELETE FROM placements WHERE atsign = ?").run(rec.atsign);
      this.event(rec.atsign, "deleted");
      return this.get(rec.atsign);
    })();
  }

  setMemoryLimit(atsign: string, mb: number | null): void {
    this.db
      .prepare("UPDATE atsigns SET memory_limit_mb = ?, updated_at = ? WHERE atsign = ?")
      .run(mb, Date.now(), atsign);
    this.event(atsign, "memory_limit", mb === null ? "default" : `${mb} MB`);
  }

  /**
   * Up to `limit` distinct active atSigns with a placement, picked at random: each pick seeks
   * the first active row at or after a random rowid through the state index, so a sample
   * costs `limit` index seeks however many atSigns there are (ORDER BY RANDOM() would read
   * every active row, on the event loop). Rows after a gap in the rowids are picked a little
   * more often; a probe sample does not need better.
   */
  sampleActive(limit: number): AtSignRecord[] {
    // Two seeks (MIN and MAX in one query would read the whole index range).
    const end = (dir: "ASC" | "DESC") =>
      (
        this.db
          .prepare(
            `SELECT rowid AS r FROM atsigns WHERE state = 'active' ORDER BY rowid ${dir} LIMIT 1`,
          )
          .get() as { r: number } | undefined
      )?.r;
    const lo = end("ASC");
    const hi = end("DESC");
    if (lo === undefined || hi === undefined) return [];
    const seek = this.db.prepare(
      "SELECT * FROM atsigns WHERE state = 'active' AND rowid >= ? ORDER BY rowid LIMIT 1",
    );
    const picked = new Map<string, AtSignRecord>();
    for (let i = 0; i < limit * 4 + 8 && picked.size < limit; i++) {
      const row = seek.get(lo + Math.floor(Math.random() * (hi - lo + 1))) as Row | undefined;
      if (row && row.host !== null && row.port !== null) picked.set(row.atsign, toRecord(row));
    }
    return [...picked.values()];
  }

  /** One active atSign placed on `swarm` (any), for probing that swarm's atServer port. */
  anyActiveOn(swarm: string): AtSignRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM atsigns WHERE state = 'active' AND swarm = ? AND host IS NOT NULL
         AND port IS NOT NULL LIMIT 1`,
      )
      .get(swarm) as Row | undefined;
    return row && toRecord(row);
  }

  /**
   * For each of `states`, when its longest-waiting atSign entered it (epoch ms): the latest
   * event of that state's name, else `updated_at` (failed attempts bump `updated_at`, so it
   * alone would hide an atSign retrying the same step for hours).
   */
  oldestEntryByState(states: readonly AtSignState[]): Record<string, number> {
    if (states.length === 0) return {};
    const rows = this.db
      .prepare(
        `SELECT a.state AS state, MIN(COALESCE(
           (SELECT MAX(e.at) FROM events e WHERE e.atsign = a.atsign AND e.kind = a.state),
           a.updated_at)) AS since
         FROM atsigns a WHERE a.state IN (${states.map(() => "?").join(",")}) GROUP BY a.state`,
      )
      .all(...states) as { state: string; since: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.since]));
  }

  placementCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM placements").get() as { n: number }).n;
  }

  event(atsign: string, kind: string, detail?: string): void {
    this.db
      .prepare("INSERT INTO events (atsign, at, kind, detail) VALUES (?, ?, ?, ?)")
      .run(atsign, Date.now(), kind, detail ?? null);
  }

  events(atsign: string): { at: number; kind: string; detail: string | null }[] {
    return this.db
      .prepare("SELECT at, kind, detail FROM events WHERE atsign = ? ORDER BY id")
      .all(atsign) as { at: number; kind: string; detail: string | null }[];
  }

  // --- one-time codes and sessions -------------------------------------------------

  putOtp(email: string, purpose: string, codeHash: string, expiresAt: number): void {
    this.db
      .prepare(
        `INSERT INTO otps (email, purpose, code_hash, expires_at, attempts) VALUES (?, ?, ?, ?, 0)
         ON CONFLICT(email, purpose) DO UPDATE SET code_hash = excluded.code_hash,
         expires_at = excluded.expires_at, attempts = 0`,
      )
      .run(email, purpose, codeHash, expiresAt);
  }

  /** Counts an attempt and returns the stored code (or undefined if none/expired/exhausted). */
  takeOtpAttempt(
    email: string,
    purpose: string,
    maxAttempts: number,
  ): { codeHash: string } | undefined {
    return this.db.transaction(() => {
      const row = this.db
        .prepare("SELECT * FROM otps WHERE email = ? AND purpose = ?")
        .get(email, purpose) as
        { code_hash: string; expires_at: number; attempts: number } | undefined;
      if (!row || row.expires_at < Date.now() || row.attempts >= maxAttempts) return undefined;
      this.db
        .prepare("UPDATE otps SET attempts = attempts + 1 WHERE email = ? AND purpose = ?")
        .run(email, purpose);
      return { codeHash: row.code_hash };
    })();
  }

  deleteOtp(email: string, purpose: string): void {
    this.db.prepare("DELETE FROM otps WHERE email = ? AND purpose = ?").run(email, purpose);
  }

  putSession(tokenHash: string, session: Session): void {
    this.db.prepare("DELETE FROM sessions WHERE expires_at < ?").run(Date.now());
    this.db
      .prepare("INSERT INTO sessions (token_hash, email, csrf, expires_at) VALUES (?, ?, ?, ?)")
      .run(tokenHash, session.email, session.csrf, session.expiresAt);
  }

  getSession(tokenHash: string): Session | undefined {
    const row = this.db.prepare("SELECT * FROM sessions WHERE token_hash = ?").get(tokenHash) as
      { email: string; csrf: string; expires_at: number } | undefined;
    if (!row || row.expires_at < Date.now()) return undefined;
    return { email: row.email, csrf: row.csrf, expiresAt: row.expires_at };
  }

  deleteSession(tokenHash: string): void {
    this.db.prepare("DELETE FROM sessions WHERE token_hash = ?").run(tokenHash);
  }
}
