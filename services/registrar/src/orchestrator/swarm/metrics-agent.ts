// The per-node metrics agent (services/atserver/src/metrics-agent) as a global service on
// each swarm: one task per node, from the swarm's atServer image (the only image nodes
// pre-pull), on the host network so it reaches the atServers' unpublished metrics ports on
// the node's bridge and serves 127.0.0.1:9464 of the node. Ensured idempotently when the
// registrar starts: created when absent, updated when its spec (hash) differs.
import { orchestratorLogger } from "../../logger";
import type { EngineClient } from "./engine-client";
import { EngineConflictError } from "./errors";
import { LABEL_KIND, LABEL_SPEC, LABEL_SWARM, sha256 } from "./service-spec";
import type { SwarmConfig } from "./swarm-config";

const log = orchestratorLogger.child({ orchestrator: "swarm" });

export const AGENT_SERVICE = "atplatform-metrics-agent";
export const AGENT_PORT = 9464;
const SOCKET = "/var/run/docker.sock";

/** The agent's ServiceSpec for one swarm. */
export function metricsAgentServiceSpec(swarm: SwarmConfig): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    Name: AGENT_SERVICE,
    Labels: { [LABEL_KIND]: "metrics-agent", [LABEL_SWARM]: swarm.name },
    TaskTemplate: {
      ContainerSpec: {
        Image: swarm.image,
        Command: ["node", "services/atserver/dist/metrics-agent.js"],
        Env: [
          `ATPLATFORM_AGENT_PORT=${AGENT_PORT}`,
          // Loopback of the node (host network): only the node's own Ops Agent scrapes it.
          "ATPLATFORM_AGENT_HOST=127.0.0.1",
          `ATPLATFORM_AGENT_DOCKER_SOCKET=${SOCKET}`,
          "NODE_OPTIONS=--max-old-space-size=96",
        ],
        // The socket is root's; the agent keeps no capability and cannot write its filesystem.
        User: "0:0",
        CapabilityDrop: ["ALL"],
        ReadOnly: true,
        Mounts: [
          {
            Type: "bind",
            Source: swarm.dockerSocket ?? SOCKET,
            Target: SOCKET,
            ReadOnly: true,
          },
        ],
      },
      Networks: [{ Target: "host" }],
      Resources: { Limits: { MemoryBytes: 160 * 1024 * 1024, NanoCPUs: 250_000_000 } },
      RestartPolicy: { Condition: "any", Delay: 5_000_000_000, MaxAttempts: 0, Window: 0 },
    },
    Mode: { Global: {} },
    UpdateConfig: { Parallelism: 0, Order: "stop-first", FailureAction: "continue" },
  };
  (spec.Labels as Record<string, string>)[LABEL_SPEC] = sha256(JSON.stringify(spec)).slice(0, 32);
  return spec;
}

interface AgentService {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string> };
}

/** Creates or updates the swarm's agent service; a no-op when it is already as wanted. */
export async function ensureMetricsAgent(client: EngineClient): Promise<void> {
  const spec = metricsAgentServiceSpec(client.swarm);
  const wanted = (spec.Labels as Record<string, string>)[LABEL_SPEC];
  const find = async () =>
    (
      await client.call<AgentService[]>({
        method: "GET",
        path: "/services",
        query: { filters: { name: [AGENT_SERVICE] } },
      })
    ).find((s) => s.Spec.Name === AGENT_SERVICE);
  let svc = await find();
  if (!svc) {
    try {
      await client.call({ method: "POST", path: "/services/create", body: spec });
      log.info({ swarm: client.swarm.name }, "metrics agent service created");
      return;
    } catch (err) {
      // Another registrar created it first: compare with theirs.
      if (!(err instanceof EngineConflictError)) throw err;
      svc = await find();
      if (!svc) throw err;
    }
  }
  if (svc.Spec.Labels?.[LABEL_SPEC] === wanted) return;
  await client.call({
    method: "POST",
    path: `/services/${svc.ID}/update`,
    query: { version: svc.Version.Index },
    body: spec,
  });
  log.info({ swarm: client.swarm.name }, "metrics agent service updated");
}
