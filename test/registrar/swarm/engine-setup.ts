// TLS material and orchestrator settings shared by the swarm tests.
import { issueServerCertificate } from "@atplatform/protocol";
import type { SwarmOrchestratorConfig } from "../../../services/registrar/src/orchestrator/swarm";
import { testCa } from "../../support/test-ca";
import type { EngineTls } from "./replay-engine";

const IMAGE = `registry.test/atplatform/atserver@sha256:${"ab".repeat(32)}`;

export interface Tls {
  server: EngineTls;
  client: { ca: string; cert: string; key: string };
}

export async function engineTls(): Promise<Tls> {
  const ca = await testCa();
  const server = await issueServerCertificate(ca, { names: ["127.0.0.1"] });
  const client = await issueServerCertificate(ca, { names: ["registrar.test"] });
  return {
    server: { key: server.key, cert: server.cert, ca: ca.cert },
    client: { ca: ca.cert, cert: client.cert, key: client.key },
  };
}

export function orchestratorConfig(
  tls: Tls["client"],
  ports: { blue: number; green?: number },
  over: Partial<SwarmOrchestratorConfig> = {},
): SwarmOrchestratorConfig {
  const swarm = (name: string, port: number, min: number) => ({
    name,
    engine: { host: "127.0.0.1", port, ...tls },
    publicHost: `${name}.swarms.test`,
    minPort: min,
    maxPort: min + 999,
    image: IMAGE,
    storageRoot: "/srv/atplatform/atservers",
  });
  return {
    swarms: [
      swarm("blue", ports.blue, 30000),
      ...(ports.green ? [swarm("green", ports.green, 31000)] : []),
    ],
    rootAddress: "root.test:64",
    callTimeoutMs: 400,
    pollMs: 5,
    jobTimeoutMs: 2000,
    stopTimeoutMs: 2000,
    now: () => new Date("2026-11-23T21:00:00.000Z"),
    ...over,
  };
}
