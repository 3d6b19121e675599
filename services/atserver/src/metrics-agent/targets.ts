// Which atServers run on this node, from their containers' labels (set by the registrar's
// orchestrator), and where their metrics endpoints answer.
import type { EngineContainer } from "./engine";
import { LABEL_ATSIGN, LABEL_METRICS_PORT } from "./engine";

export interface Target {
  atsign: string;
  url: string;
}

// The registrar's atSign grammar is stricter; this only keeps the label value sane.
const ATSIGN = /^@?[^\s"\\{},=]{1,64}$/;

/** Targets of the running atServer containers; those without a usable address are skipped. */
export function targetsOf(containers: EngineContainer[], limit: number): Target[] {
  const out: Target[] = [];
  for (const c of containers) {
    const l = c.Labels ?? {};
    const atsign = l[LABEL_ATSIGN];
    const port = Number(l[LABEL_METRICS_PORT]);
    if (!atsign || !ATSIGN.test(atsign) || !Number.isInteger(port) || port < 1 || port > 65535)
      continue;
    const ip = Object.values(c.NetworkSettings?.Networks ?? {})
      .map((n) => n.IPAddress)
      .find((a): a is string => !!a && /^[0-9.]+$/.test(a));
    if (!ip) continue;
    out.push({
      atsign: atsign.startsWith("@") ? atsign : `@${atsign}`,
      url: `http://${ip}:${port}/metrics`,
    });
    if (out.length >= limit) break;
  }
  return out;
}
