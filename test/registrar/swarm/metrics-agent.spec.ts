// The per-node metrics agent's global service as the swarm orchestrator declares and ensures
// it: the spec's security-relevant parts, and an ensure that creates once, then leaves an
// identical service alone and updates a changed one (a stand-in Engine client records calls).
import "../quiet";
import { expect } from "chai";
import type { EngineClient } from "../../../services/registrar/src/orchestrator/swarm/engine-client";
import type { EngineRequest } from "../../../services/registrar/src/orchestrator/swarm/engine-client";
import { EngineConflictError } from "../../../services/registrar/src/orchestrator/swarm/errors";
import {
  AGENT_SERVICE,
  ensureMetricsAgent,
  metricsAgentServiceSpec,
} from "../../../services/registrar/src/orchestrator/swarm/metrics-agent";
import type { SwarmConfig } from "../../../services/registrar/src/orchestrator/swarm/swarm-config";

const SWARM: SwarmConfig = {
  name: "blue",
  engine: { host: "10.0.0.5", port: 2376, ca: "", cert: "", key: "" },
  publicHost: "blue.example",
  minPort: 30000,
  maxPort: 30999,
  image: "registry.example/atserver@sha256:ab",
  storageRoot: "/srv/atservers",
};

type Spec = Record<string, any>;

/** Answers like an engine holding `services`; records every request. */
function fakeClient(services: Spec[], opts: { conflictOnCreate?: Spec } = {}) {
  const requests: EngineRequest[] = [];
  const client = {
    swarm: SWARM,
    async call<T>(req: EngineRequest): Promise<T> {
      requests.push(req);
      if (req.method === "GET" && req.path === "/services") return services as T;
      if (req.path === "/services/create") {
        if (opts.conflictOnCreate) {
          services.push(opts.conflictOnCreate);
          throw new EngineConflictError("name conflicts", "blue", "POST /services/create");
        }
        return { ID: "new" } as T;
      }
      return {} as T;
    },
  };
  return { client: client as unknown as EngineClient, requests };
}

describe("registrar swarm orchestrator: the per-node metrics agent service", () => {
  it("global, from the swarm's atServer image, host network, socket read-only, no published port", () => {
    const spec = metricsAgentServiceSpec(SWARM) as Spec;
    expect(spec.Name).to.equal(AGENT_SERVICE);
    expect(spec.Mode).to.deep.equal({ Global: {} });
    const c = spec.TaskTemplate.ContainerSpec;
    expect(c.Image).to.equal(SWARM.image);
    expect(c.Command).to.deep.equal(["node", "services/atserver/dist/metrics-agent.js"]);
    expect(c.Mounts).to.deep.equal([
      {
        Type: "bind",
        Source: "/var/run/docker.sock",
        Target: "/var/run/docker.sock",
        ReadOnly: true,
      },
    ]);
    expect(c.ReadOnly).to.equal(true);
    expect(c.CapabilityDrop).to.deep.equal(["ALL"]);
    expect(c.Env).to.include("ATPLATFORM_AGENT_HOST=127.0.0.1");
    expect(c.Env).to.include("ATPLATFORM_AGENT_PORT=9464");
    expect(spec.TaskTemplate.Networks).to.deep.equal([{ Target: "host" }]);
    expect(spec.EndpointSpec).to.equal(undefined);
    expect(spec.TaskTemplate.Resources.Limits.MemoryBytes).to.be.above(0);
    const other = metricsAgentServiceSpec({ ...SWARM, dockerSocket: "/run/d.sock" }) as Spec;
    expect(other.TaskTemplate.ContainerSpec.Mounts[0].Source).to.equal("/run/d.sock");
    const hash = (s: Spec) => s.Labels["atplatform.spec-hash"];
    expect(hash(metricsAgentServiceSpec(SWARM) as Spec)).to.equal(hash(spec));
    expect(hash(metricsAgentServiceSpec({ ...SWARM, image: "x@sha256:cd" }) as Spec)).not.to.equal(
      hash(spec),
    );
  });

  it("creates it when absent", async () => {
    const { client, requests } = fakeClient([]);
    await ensureMetricsAgent(client);
    expect(requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      "GET /services",
      "POST /services/create",
    ]);
    expect(requests[0]!.query).to.deep.equal({ filters: { name: [AGENT_SERVICE] } });
  });

  it("leaves an identical one alone, updates a changed one with its version", async () => {
    const wanted = metricsAgentServiceSpec(SWARM) as Spec;
    const same = fakeClient([{ ID: "a1", Version: { Index: 7 }, Spec: wanted }]);
    await ensureMetricsAgent(same.client);
    expect(same.requests.map((r) => r.method)).to.deep.equal(["GET"]);

    const old = metricsAgentServiceSpec({ ...SWARM, image: "old@sha256:00" });
    // A prefix match of the name filter is not ours.
    const changed = fakeClient([
      { ID: "z9", Version: { Index: 1 }, Spec: { Name: `${AGENT_SERVICE}-x` } },
      { ID: "a1", Version: { Index: 7 }, Spec: old },
    ]);
    await ensureMetricsAgent(changed.client);
    const update = changed.requests[1]!;
    expect(update.path).to.equal("/services/a1/update");
    expect(update.query).to.deep.equal({ version: 7 });
    expect(update.body).to.deep.equal(wanted);
  });

  it("another registrar created it first (409): compares with theirs instead", async () => {
    const wanted = metricsAgentServiceSpec(SWARM) as Spec;
    const { client, requests } = fakeClient([], {
      conflictOnCreate: { ID: "b2", Version: { Index: 3 }, Spec: wanted },
    });
    await ensureMetricsAgent(client);
    expect(requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      "GET /services",
      "POST /services/create",
      "GET /services",
    ]);
  });
});
