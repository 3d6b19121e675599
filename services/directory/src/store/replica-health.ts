// Whether the Redis node behind the reads connection may be trusted, from its
// `INFO replication` and the presence of the sentinel key the registrar's writer keeps
// on the primary. A replica that restarted empty answers PING and `GET → nil` while it
// resyncs (replica-serve-stale-data), and a replica cut off from its primary answers
// from an old copy: both would turn into wrong `null`s.
//
// - ok: every answer is trusted.
// - degraded (link to the primary down, or silent too long): the data is a possibly
//   old copy. An address is answered (stale positives are already acceptable, as from
//   the cache), a `null` is not: it may be an atSign registered since.
// - unfit (full sync in progress, sentinel key missing = empty or foreign dataset):
//   nothing is answered from this node.

export type Fitness = "ok" | "degraded" | "unfit";

export interface Verdict {
  fitness: Fitness;
  reason: string;
  /** Unfit because it is (re)loading its copy from the primary: the metrics' "syncing". */
  syncing?: boolean;
}

/** Parses the `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

export function judge(
  info: Map<string, string>,
  sentinelPresent: boolean,
  maxSilenceMs: number,
): Verdict {
  if (info.get("master_sync_in_progress") === "1") {
    return { fitness: "unfit", reason: "replica full sync in progress", syncing: true };
  }
  if (!sentinelPresent) {
    const reason = "sentinel key missing (empty or unpopulated dataset)";
    // A replica without its primary yet (restarted empty, handshake under way).
    const waiting = info.get("role") === "slave" && info.get("master_link_status") !== "up";
    return { fitness: "unfit", reason, syncing: waiting };
  }
  const role = info.get("role");
  if (role === "master") return { fitness: "ok", reason: "primary" };
  if (role !== "slave") return { fitness: "unfit", reason: `unknown role ${String(role)}` };
  const link = info.get("master_link_status");
  if (link !== "up") return { fitness: "degraded", reason: `replica link ${String(link)}` };
  // The primary pings its replicas every repl-ping-replica-period (10 s): a longer
  // silence means the link is dead before Redis notices (repl-timeout, 60 s).
  const silentS = Number(info.get("master_last_io_seconds_ago") ?? "0");
  if (silentS * 1000 > maxSilenceMs) {
    return { fitness: "degraded", reason: `no data from the primary for ${silentS} s` };
  }
  return { fitness: "ok", reason: "replica in sync" };
}
