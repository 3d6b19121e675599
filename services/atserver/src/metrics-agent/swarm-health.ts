// The manager-only swarm health families, computed from the Engine API's node, service and
// task lists. Every label combination is exported (zeros included), so an alert sees 0
// rather than an absent series.
import { Gauge, type Metric } from "@atplatform/protocol/src/metrics";
import type { EngineNode, EngineServiceSummary, EngineTaskSummary } from "./engine";

const ROLES = ["manager", "worker"] as const;
const STATES = ["ready", "down", "unknown", "disconnected"] as const;
const AVAILABILITIES = ["active", "pause", "drain"] as const;

/** Failed tasks within this window make a service crash-looping (at CRASH_TASKS or more). */
export const CRASH_WINDOW_MS = 10 * 60_000;
export const CRASH_TASKS = 3;

export interface SwarmHealth {
  /** `${role}|${state}|${availability}` → nodes. */
  nodes: Map<string, number>;
  managersReachable: number;
  managersTotal: number;
  servicesCrashlooping: number;
}

function bucket<T extends string>(v: string | undefined, allowed: readonly T[]): T {
  // An engine value outside the contract's set counts as the least healthy one we know.
  return (allowed as readonly string[]).includes(v ?? "") ? (v as T) : allowed[2]!;
}

export function swarmHealth(
  nodes: EngineNode[],
  services: EngineServiceSummary[],
  ended: EngineTaskSummary[],
  now: number,
): SwarmHealth {
  const counts = new Map<string, number>();
  let managersTotal = 0;
  let managersReachable = 0;
  for (const n of nodes) {
    const role = n.Spec?.Role === "manager" ? "manager" : "worker";
    const state = bucket(n.Status?.State, STATES);
    const availability = (AVAILABILITIES as readonly string[]).includes(n.Spec?.Availability ?? "")
      ? n.Spec!.Availability!
      : "active";
    const key = `${role}|${state}|${availability}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (role === "manager") {
      managersTotal++;
      if (n.ManagerStatus?.Reachability === "reachable") managersReachable++;
    }
  }
  const atServers = new Set(services.map((s) => s.ID));
  const failures = new Map<string, number>();
  for (const t of ended) {
    if (!t.ServiceID || !atServers.has(t.ServiceID)) continue;
    if (t.Status?.State !== "failed" && t.Status?.State !== "rejected") continue;
    const at = Date.parse(t.Status.Timestamp ?? "");
    if (!(now - at <= CRASH_WINDOW_MS)) continue;
    failures.set(t.ServiceID, (failures.get(t.ServiceID) ?? 0) + 1);
  }
  const servicesCrashlooping = [...failures.values()].filter((n) => n >= CRASH_TASKS).length;
  return { nodes: counts, managersReachable, managersTotal, servicesCrashlooping };
}

/** The four families over the latest health (empty until a manager has read one). */
export function swarmHealthMetrics(latest: () => SwarmHealth | undefined): Metric[] {
  const when = (read: (h: SwarmHealth) => number) => () => {
    const h = latest();
    return h ? [[{}, read(h)] as const] : [];
  };
  return [
    new Gauge("atplatform_swarm_nodes", "Swarm nodes by role, state and availability.", () => {
      const h = latest();
      if (!h) return [];
      const out: [Record<string, string>, number][] = [];
      for (const role of ROLES)
        for (const state of STATES)
          for (const availability of AVAILABILITIES)
            out.push([
              { role, state, availability },
              h.nodes.get(`${role}|${state}|${availability}`) ?? 0,
            ]);
      return out;
    }),
    new Gauge(
      "atplatform_swarm_managers_reachable",
      "Managers whose reachability is reachable.",
      when((h) => h.managersReachable),
    ),
    new Gauge(
      "atplatform_swarm_managers_total",
      "Managers in the swarm.",
      when((h) => h.managersTotal),
    ),
    new Gauge(
      "atplatform_swarm_services_crashlooping",
      `atServer services with >= ${CRASH_TASKS} tasks failed or rejected in the last 10 minutes.`,
      when((h) => h.servicesCrashlooping),
    ),
  ];
}
