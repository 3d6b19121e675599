// The onboarding API keys and admin keys the registrar accepts, stored as SHA-256 hashes
// (keys are 32 random bytes, so a slow hash adds nothing). A rotation adds a new key and gives
// the previous ones a deadline (the overlap window), so clients can switch without downtime.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import { BadRequestError } from "../errors";
import { keysLogger as log } from "../logger";

export type KeyKind = "api" | "admin";
export const KEY_KINDS: readonly KeyKind[] = ["api", "admin"];

/** A lost rotation answer must not lock every admin out: the old admin key lives this long. */
export const MIN_ADMIN_OVERLAP_MS = 60_000;
/** Longest overlap a rotation may ask for (30 days). */
export const MAX_OVERLAP_MS = 30 * 24 * 3600_000;

export interface KeyInfo {
  id: number;
  kind: KeyKind;
  /** "config": from REGISTRAR_API_KEY / REGISTRAR_ADMIN_KEY; "rotated": made by a rotation. */
  source: "config" | "rotated";
  createdAt: number;
  expiresAt: number | null;
  retiredAt: number | null;
}

interface Row {
  id: number;
  kind: string;
  hash: string;
  source: string;
  created_at: number;
  expires_at: number | null;
  retired_at: number | null;
}

function hashOf(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

export class AccessKeys {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Registers a configured key on start-up. A known key keeps its record (a retired one stays
   * refused: the Secret still holding it after a rotation must not revive it). A new one is
   * accepted, and the keys it replaces stay valid for `overlapMs` (a Secret-driven rotation).
   */
  adopt(kind: KeyKind, key: string, overlapMs: number): { accepted: boolean } {
    const hash = hashOf(key).toString("hex");
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT * FROM access_keys WHERE hash = ?").get(hash) as
        Row | undefined;
      if (row) {
        if (row.kind !== kind) throw new BadRequestError(`that key is registered as ${row.kind}`);
        const accepted = this.valid(row);
        if (!accepted)
          log.warn({ kind, id: row.id }, "the configured key is retired: it is not accepted");
        return { accepted };
      }
      const t = this.now();
      this.limitOthers(kind, t + overlapMs);
      this.db
        .prepare(
          "INSERT INTO access_keys (kind, hash, source, created_at) VALUES (?, ?, 'config', ?)",
        )
        .run(kind, hash, t);
      log.info({ kind }, "configured key registered");
      return { accepted: true };
    })();
  }

  /** Whether `given` is a valid key of `kind`, compared in constant time with every one. */
  accepts(kind: KeyKind, given: string): boolean {
    if (!given) return false;
    const h = hashOf(given);
    let ok = false;
    for (const row of this.validRows(kind))
      // No early exit: the time does not tell how many keys there are or which one matched.
      ok = timingSafeEqual(h, Buffer.from(row.hash, "hex")) || ok;
    return ok;
  }

  /**
   * A new random key of `kind`; every other valid key of the kind stays valid `overlapMs`
   * longer (0: retired at once, not for admin keys). The key is returned once, never stored.
   */
  rotate(kind: KeyKind, overlapMs: number): { id: number; key: string; oldValidUntil: number } {
    if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > MAX_OVERLAP_MS)
      throw new BadRequestError(`overlap must be 0 to ${MAX_OVERLAP_MS} ms`);
    if (kind === "admin" && overlapMs < MIN_ADMIN_OVERLAP_MS)
      throw new BadRequestError(
        `the old admin key must stay valid at least ${MIN_ADMIN_OVERLAP_MS / 1000} s; retire it once the new one works`,
      );
    const key = randomBytes(32).toString("base64url");
    return this.db.transaction(() => {
      const t = this.now();
      const until = t + overlapMs;
      this.limitOthers(kind, until);
      if (overlapMs === 0) this.retireOthers(kind, undefined);
      const { lastInsertRowid } = this.db
        .prepare(
          "INSERT INTO access_keys (kind, hash, source, created_at) VALUES (?, ?, 'rotated', ?)",
        )
        .run(kind, hashOf(key).toString("hex"), t);
      const id = Number(lastInsertRowid);
      log.info({ kind, id, oldValidUntil: new Date(until).toISOString() }, "key rotated");
      return { id, key, oldValidUntil: until };
    })();
  }

  /** Retires every valid key of `kind` but the newest, now. Returns how many. */
  retireOld(kind: KeyKind): number {
    const newest = this.validRows(kind).at(-1);
    const n = newest ? this.retireOthers(kind, newest.id) : 0;
    log.info({ kind, retired: n }, "old keys retired");
    return n;
  }

  list(): (KeyInfo & { valid: boolean })[] {
    const rows = this.db.prepare("SELECT * FROM access_keys ORDER BY id").all() as Row[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind as KeyKind,
      source: r.source as KeyInfo["source"],
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      retiredAt: r.retired_at,
      valid: this.valid(r),
    }));
  }

  // ---------------------------------------------------------------------------------

  private valid(r: Row): boolean {
    return r.retired_at === null && (r.expires_at === null || r.expires_at > this.now());
  }

  private validRows(kind: KeyKind): Row[] {
    const rows = this.db
      .prepare("SELECT * FROM access_keys WHERE kind = ? AND retired_at IS NULL ORDER BY id")
      .all(kind) as Row[];
    return rows.filter((r) => this.valid(r));
  }

  /** Gives the valid keys of `kind` a deadline of `until` unless theirs is earlier. */
  private limitOthers(kind: KeyKind, until: number): void {
    this.db
      .prepare(
        "UPDATE access_keys SET expires_at = ? WHERE kind = ? AND retired_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
      )
      .run(until, kind, until);
  }

  private retireOthers(kind: KeyKind, keepId: number | undefined): number {
    return this.db
      .prepare(
        "UPDATE access_keys SET retired_at = ? WHERE kind = ? AND retired_at IS NULL AND id IS NOT ?",
      )
      .run(this.now(), kind, keepId ?? null).changes;
  }
}
