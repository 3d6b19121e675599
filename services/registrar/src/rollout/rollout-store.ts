// The roll-outs' durable state, in the registrar's SQLite file: a restarted registrar reads
// where a roll-out stood and carries on from there.
import type Database from "better-sqlite3";

export type RolloutState = "running" | "paused" | "completed" | "stopped" | "aborted";
export type ItemState = "pending" | "updating" | "done" | "failed" | "skipped";

export interface Rollout {
  id: number;
  state: RolloutState;
  /** Target image per swarm. */
  targets: Record<string, string>;
  /** The number of the batch in progress (or last run); 0 before the first. */
  batch: number;
  stoppedReason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface RolloutItem {
  atsign: string;
  swarm: string;
  fromImage: string;
  toImage: string;
  state: ItemState;
  batch: number | null;
  detail: string | null;
}

interface RolloutRow {
  id: number;
  state: string;
  targets: string;
  batch: number;
  stopped_reason: string | null;
  created_at: number;
  updated_at: number;
}

interface ItemRow {
  atsign: string;
  swarm: string;
  from_image: string;
  to_image: string;
  state: string;
  batch: number | null;
  detail: string | null;
}

function toRollout(r: RolloutRow): Rollout {
  return {
    id: r.id,
    state: r.state as RolloutState,
    targets: JSON.parse(r.targets) as Record<string, string>,
    batch: r.batch,
    stoppedReason: r.stopped_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toItem(r: ItemRow): RolloutItem {
  return {
    atsign: r.atsign,
    swarm: r.swarm,
    fromImage: r.from_image,
    toImage: r.to_image,
    state: r.state as ItemState,
    batch: r.batch,
    detail: r.detail,
  };
}

export class RolloutStore {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  /** The roll-out that is running or paused, if any (at most one ever is). */
  current(): Rollout | undefined {
    const row = this.db
      .prepare("SELECT * FROM rollouts WHERE state IN ('running','paused') ORDER BY id DESC")
      .get() as RolloutRow | undefined;
    return row && toRollout(row);
  }

  latest(): Rollout | undefined {
    const row = this.db.prepare("SELECT * FROM rollouts ORDER BY id DESC LIMIT 1").get() as
      RolloutRow | undefined;
    return row && toRollout(row);
  }

  get(id: number): Rollout | undefined {
    const row = this.db.prepare("SELECT * FROM rollouts WHERE id = ?").get(id) as
      RolloutRow | undefined;
    return row && toRollout(row);
  }

  /** A new running roll-out of `items` (all pending); refuses while another one is current. */
  create(
    targets: Record<string, string>,
    items: Omit<RolloutItem, "state" | "batch" | "detail">[],
  ): Rollout | undefined {
    return this.db.transaction(() => {
      if (this.current()) return undefined;
      const t = this.now();
      const { lastInsertRowid } = this.db
        .prepare(
          "INSERT INTO rollouts (state, targets, created_at, updated_at) VALUES ('running', ?, ?, ?)",
        )
        .run(JSON.stringify(targets), t, t);
      const id = Number(lastInsertRowid);
      const insert = this.db.prepare(
        "INSERT INTO rollout_items (rollout_id, atsign, swarm, from_image, to_image, state) VALUES (?, ?, ?, ?, ?, 'pending')",
      );
      for (const i of items) insert.run(id, i.atsign, i.swarm, i.fromImage, i.toImage);
      return this.get(id);
    })();
  }

  /** Moves a roll-out between states; `from` guards against a concurrent change. */
  setState(
    id: number,
    from: readonly RolloutState[],
    to: RolloutState,
    reason: string | null = null,
  ): boolean {
    const r = this.db
      .prepare(
        `UPDATE rollouts SET state = ?, stopped_reason = ?, updated_at = ? WHERE id = ? AND state IN (${from
          .map(() => "?")
          .join(",")})`,
      )
      .run(to, reason, this.now(), id, ...from);
    return r.changes === 1;
  }

  nextBatch(id: number): number {
    this.db
      .prepare("UPDATE rollouts SET batch = batch + 1, updated_at = ? WHERE id = ?")
      .run(this.now(), id);
    return this.get(id)!.batch;
  }

  items(id: number, states?: readonly ItemState[]): RolloutItem[] {
    const where = states ? ` AND state IN (${states.map(() => "?").join(",")})` : "";
    return (
      this.db
        .prepare(`SELECT * FROM rollout_items WHERE rollout_id = ?${where} ORDER BY atsign`)
        .all(id, ...(states ?? [])) as ItemRow[]
    ).map(toItem);
  }

  counts(id: number): Record<ItemState, number> {
    const out: Record<ItemState, number> = {
      pending: 0,
      updating: 0,
      done: 0,
      failed: 0,
      skipped: 0,
    };
    const rows = this.db
      .prepare("SELECT state, COUNT(*) AS n FROM rollout_items WHERE rollout_id = ? GROUP BY state")
      .all(id) as { state: ItemState; n: number }[];
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  setItem(
    id: number,
    atsign: string,
    state: ItemState,
    extra: { batch?: number; detail?: string | null } = {},
  ): void {
    this.db
      .prepare(
        "UPDATE rollout_items SET state = ?, batch = COALESCE(?, batch), detail = ? WHERE rollout_id = ? AND atsign = ?",
      )
      .run(state, extra.batch ?? null, extra.detail ?? null, id, atsign);
    this.db.prepare("UPDATE rollouts SET updated_at = ? WHERE id = ?").run(this.now(), id);
  }
}
