import "../quiet";
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Provisioner } from "../../../services/registrar/src/provisioning/provisioner";
import { RegistrarStore } from "../../../services/registrar/src/store/registrar-store";
import { SwarmOrchestrator, swarmPorts } from "../../../services/registrar/src/orchestrator/swarm";
import { loadFixture, ReplayEngine } from "./replay-engine";
import { engineTls, orchestratorConfig } from "./engine-setup";

describe("registrar provisioning with the swarm orchestrator (recorded Engine API)", function () {
  let dir: string;
  let engine: ReplayEngine | undefined;
  let store: RegistrarStore | undefined;
  let provisioner: Provisioner | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-swarm-prov-"));
  });
  afterEach(async () => {
    await provisioner?.stop();
    store?.close();
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setup(fixture: string) {
    const tls = await engineTls();
    engine = await ReplayEngine.start(tls.server, loadFixture(fixture).exchanges);
    const cfg = orchestratorConfig(tls.client, { blue: engine.port }, { callTimeoutMs: 300 });
    cfg.swarms[0]!.minPort = 30001;
    store = new RegistrarStore(join(dir, "registrar.db"));
    const written = new Map<string, string>();
    const errors: string[] = [];
    provisioner = new Provisioner({
      store,
      orchestrator: new SwarmOrchestrator(cfg),
      records: {
        set: async (a, hp) => void written.set(a, hp),
        delete: async (a) => void written.delete(a),
      },
      healthProbe: async () => undefined,
      swarms: swarmPorts(cfg),
      secretsDir: join(dir, "secrets"),
    });
    provisioner.events.on("change", (a: string) => {
      const e = store!.get(a)?.lastError;
      if (e && errors.at(-1) !== e) errors.push(e);
    });
    return { engine, store, provisioner, written, errors };
  }

  // Fixture kept: a real engine cannot be made to answer 500 to one DELETE on demand.
  it("delete: a 500 from DELETE /services leaves it retryable; the retry completes the delete", async () => {
    const { engine, store, provisioner, written, errors } = await setup("provision-delete");
    store.reserve("alice", { activationKey: "k" });
    store.request("alice", "cram-secret-alice-0001");
    await provisioner.drive("alice");
    expect(store.get("alice")!.state).to.equal("active");
    expect(written.get("alice")).to.equal("blue.swarms.test:30001");

    expect(store.transition(store.get("alice")!, "deleting")).to.not.equal(undefined);
    await provisioner.drive("alice");
    expect(store.get("alice")!.state).to.equal("deleted");
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include("DELETE /services/svcalice1: HTTP 500");
    expect(written.has("alice")).to.equal(false);
    expect(engine.requests).to.deep.equal(engine.expected());
    expect(engine.remaining).to.have.length(0);
    // The only create is the archive job: the existing service was adopted, never re-created.
    const created = engine.requests
      .filter((r) => r.path === "/v1.43/services/create")
      .map((r) => (r.body as { Labels: Record<string, string> }).Labels["atplatform.kind"]);
    expect(created).to.deep.equal(["storage-archive"]);
  });

  // Fixture kept: a 500 and a create that reaches the engine but never answers cannot be staged
  // on a real engine; the real registrar-to-swarm path is test/swarm/registrar-e2e.spec.ts.
  it("API 500, then a create that times out: the atSign stays retryable and ends with one service", async () => {
    const tls = await engineTls();
    engine = await ReplayEngine.start(tls.server, loadFixture("provision-retries").exchanges);
    const cfg = orchestratorConfig(tls.client, { blue: engine.port }, { callTimeoutMs: 300 });
    // The fixture's service publishes 30001: start blue's range there.
    cfg.swarms[0]!.minPort = 30001;
    const orchestrator = new SwarmOrchestrator(cfg);
    store = new RegistrarStore(join(dir, "registrar.db"));
    const written = new Map<string, string>();
    const probed: string[] = [];
    provisioner = new Provisioner({
      store,
      orchestrator,
      records: {
        set: async (a, hp) => void written.set(a, hp),
        delete: async (a) => void written.delete(a),
      },
      // The atServer itself cannot run here; its health check is the one stand-in.
      healthProbe: async (a, host, port) => void probed.push(`${a}@${host}:${port}`),
      swarms: swarmPorts(cfg),
      secretsDir: join(dir, "secrets"),
    });
    const errors: string[] = [];
    provisioner.events.on("change", (a: string) => {
      const e = store!.get(a)?.lastError;
      if (e && errors.at(-1) !== e) errors.push(e);
    });

    expect(store.reserve("alice", { activationKey: "k" })).to.equal(true);
    store.request("alice", "cram-secret-alice-0001");
    await provisioner.drive("alice");

    const rec = store.get("alice")!;
    expect(rec.state).to.equal("active");
    expect(errors).to.have.length(2);
    expect(errors[0]).to.include("HTTP 500").and.include("leader changed");
    expect(errors[1]).to.match(/no answer within 300 ms/);
    expect(written.get("alice")).to.equal("blue.swarms.test:30001");
    expect(probed).to.deep.equal(["alice@blue.swarms.test:30001"]);
    expect(engine.requests).to.deep.equal(engine.expected());
    expect(engine.remaining).to.have.length(0);
    const serviceCreates = engine.requests.filter(
      (r) =>
        r.path === "/v1.43/services/create" &&
        (r.body as { Labels: Record<string, string> }).Labels["atplatform.kind"] === "atserver",
    );
    // One refused (500), one that reached the engine but timed out; none after that.
    expect(serviceCreates).to.have.length(2);
  });
});
