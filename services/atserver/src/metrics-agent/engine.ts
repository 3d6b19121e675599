// The node's Docker Engine API, read-only: the agent only ever issues these GETs. The
// answers are typed down to the fields the agent reads.
import { AgentFetchError, boundedGet } from "./bounded-get";
import type { AgentConfig } from "./config";

export const LABEL_ATSIGN = "atplatform.atsign";
export const LABEL_KIND = "atplatform.kind";
export const LABEL_METRICS_PORT = "atplatform.metrics-port";

export interface EngineContainer {
  Id: string;
  State?: string;
  Labels?: Record<string, string>;
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

export interface EngineInfo {
  Swarm?: { NodeID?: string; ControlAvailable?: boolean; LocalNodeState?: string };
}

export interface EngineNode {
  ID: string;
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string };
  ManagerStatus?: { Reachability?: string };
}

export interface EngineServiceSummary {
  ID: string;
  Spec?: { Labels?: Record<string, string> };
}

export interface EngineTaskSummary {
  ServiceID?: string;
  Status?: { State?: string; Timestamp?: string };
}

export class EngineReader {
  constructor(private readonly cfg: AgentConfig) {}

  private async get<T>(path: string, query?: Record<string, unknown>): Promise<T> {
    const qs = query
      ? `?${Object.entries(query)
          .map(([k, v]) => `${k}=${encodeURIComponent(JSON.stringify(v))}`)
          .join("&")}`
      : "";
    const text = await boundedGet({
      url: `${path}${qs}`,
      socketPath: this.cfg.dockerSocket,
      timeoutMs: this.cfg.timeoutMs * 5,
      maxBytes: this.cfg.maxEngineBytes,
    });
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AgentFetchError(`${path}: not JSON`, "parse");
    }
  }

  info(): Promise<EngineInfo> {
    return this.get("/info");
  }

  /** Running containers of atServers on this node (the orchestrator labels them). */
  atServerContainers(): Promise<EngineContainer[]> {
    return this.get("/containers/json", {
      filters: { label: [LABEL_ATSIGN], status: ["running"] },
    });
  }

  nodes(): Promise<EngineNode[]> {
    return this.get("/nodes");
  }

  atServerServices(): Promise<EngineServiceSummary[]> {
    return this.get("/services", { filters: { label: [`${LABEL_KIND}=atserver`] } });
  }

  /** Tasks meant to be stopped: the ended ones, where failures show. */
  endedTasks(): Promise<EngineTaskSummary[]> {
    return this.get("/tasks", { filters: { "desired-state": ["shutdown"] } });
  }
}
