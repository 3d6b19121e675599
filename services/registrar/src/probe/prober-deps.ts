// The prober's endpoints as the registrar process knows them: the root it writes for, its
// own public URL, and each swarm's Engine API (with the orchestrator's client certificate).
import type { SwarmConfig } from "../orchestrator/swarm/swarm-config";
import { rootResolver } from "../provisioning/probes";
import type { CertTarget } from "./cert-expiry";
import type { ProberDeps } from "./platform-prober";

export interface EngineEndpoint {
  swarm: string;
  host: string;
  port: number;
  cert: string;
  key: string;
}

/** The Engine API endpoints of the swarm orchestrator's swarms, as it connects to them. */
export function engineEndpoints(
  swarms: readonly Pick<SwarmConfig, "name" | "engine">[],
): EngineEndpoint[] {
  return swarms.map((s) => ({
    swarm: s.name,
    host: s.engine.host,
    port: s.engine.port,
    cert: s.engine.cert,
    key: s.engine.key,
  }));
}

export function proberDeps(o: {
  /** The public root endpoint, `host:port` (REGISTRAR_ROOT). */
  root: string;
  /** CA bundle the root's certificate is verified against (default: the system's). */
  ca?: string;
  publicUrl?: string;
  engines?: EngineEndpoint[];
  timeoutMs: number;
}): ProberDeps {
  const i = o.root.lastIndexOf(":");
  const rootHost = o.root.slice(0, i);
  const rootPort = Number(o.root.slice(i + 1));
  const targets: CertTarget[] = [
    { cert: "root", target: rootHost, host: rootHost, port: rootPort },
  ];
  if (o.publicUrl) {
    const url = new URL(o.publicUrl);
    targets.push({
      cert: "registrar",
      target: url.hostname,
      host: url.hostname,
      port: Number(url.port || 443),
    });
  }
  for (const e of o.engines ?? [])
    targets.push({
      cert: "docker_api",
      target: e.swarm,
      host: e.host,
      port: e.port,
      clientCert: { cert: e.cert, key: e.key },
    });
  return {
    lookup: rootResolver({ host: rootHost, port: rootPort, ca: o.ca, timeoutMs: o.timeoutMs }),
    certTargets: targets,
  };
}
