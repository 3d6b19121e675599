import "../quiet";
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, issueServerCertificate } from "@atplatform/protocol";
import {
  EngineApiError,
  EngineConflictError,
  EngineNotFoundError,
  EngineTimeoutError,
  EngineUnreachableError,
  SwarmOrchestrator,
  type SwarmOrchestratorConfig,
} from "../../../services/registrar/src/orchestrator/swarm";
import { freePort } from "../../support/ports";
import { engineTls, orchestratorConfig, type Tls } from "./engine-setup";
import { loadFixture, ReplayEngine, type Exchange } from "./replay-engine";

const BLUE = { swarm: "blue", host: "blue.swarms.test", port: 30001 };
const GREEN = { swarm: "green", host: "green.swarms.test", port: 31005 };
const CRAM = "cram-secret-alice-0001";

describe("registrar swarm orchestrator (recorded Docker Engine API exchanges)", function () {
  let tls: Tls;
  let dir: string;
  let secretFile: string;
  const engines: ReplayEngine[] = [];

  before(async () => {
    tls = await engineTls();
    dir = mkdtempSync(join(tmpdir(), "atp-swarm-"));
    secretFile = join(dir, "alice.cram");
    writeFileSync(secretFile, CRAM, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
  });

  async function engine(exchanges: Exchange[]): Promise<ReplayEngine> {
    const e = await ReplayEngine.start(tls.server, exchanges);
    engines.push(e);
    return e;
  }

  async function replay(
    fixture: string,
    over: Partial<SwarmOrchestratorConfig> = {},
  ): Promise<{ blue: ReplayEngine; orch: SwarmOrchestrator }> {
    const blue = await engine(loadFixture(fixture).exchanges);
    const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: blue.port }, over));
    return { blue, orch };
  }

  /** Every request was the expected one, in order, and every recorded answer was used. */
  function expectExactly(e: ReplayEngine): void {
    expect(e.requests).to.deep.equal(e.expected());
    expect(e.remaining).to.have.length(0);
  }

  function creates(e: ReplayEngine, kind = "atserver"): number {
    return e.requests.filter(
      (r) =>
        r.path === "/v1.43/services/create" &&
        (r.body as { Labels?: Record<string, string> }).Labels?.["atplatform.kind"] === kind,
    ).length;
  }

  it("ensure on a new atSign: mkdir job, newest complete TLS pair, CRAM secret, one service", async () => {
    const { blue, orch } = await replay("ensure-new");
    await orch.ensure("alice", BLUE, secretFile);
    expectExactly(blue);
    expect(creates(blue)).to.equal(1);
    // The CRAM secret travels only as the secret's base64 data, never in the service spec.
    const b64 = Buffer.from(CRAM).toString("base64");
    for (const r of blue.requests) {
      const text = JSON.stringify(r);
      expect(text).to.not.include(CRAM);
      if (r.path !== "/v1.43/secrets/create") expect(text).to.not.include(b64);
    }
  });

  it("ensure again finds the service by label and changes nothing", async () => {
    const { blue, orch } = await replay("ensure-again");
    await orch.ensure("alice", BLUE, secretFile);
    expectExactly(blue);
    expect(creates(blue)).to.equal(0);
  });

  it("concurrent ensures in one registrar create one service", async () => {
    const fx = loadFixture("ensure-new").exchanges.concat(loadFixture("ensure-again").exchanges);
    const blue = await engine(fx);
    const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: blue.port }));
    await Promise.all([
      orch.ensure("alice", BLUE, secretFile),
      orch.ensure("alice", BLUE, secretFile),
    ]);
    expectExactly(blue);
    expect(creates(blue)).to.equal(1);
  });

  it("ensure on a stopped service scales it back to one replica", async () => {
    const { blue, orch } = await replay("ensure-stopped");
    await orch.ensure("alice", BLUE, secretFile);
    expectExactly(blue);
  });

  it("a rotated CRAM secret becomes a new Docker secret; the old one is removed", async () => {
    const { blue, orch } = await replay("ensure-rotated");
    const rotated = join(dir, "alice-2.cram");
    writeFileSync(rotated, "cram-secret-alice-0002", { mode: 0o600 });
    await orch.ensure("alice", BLUE, rotated);
    expectExactly(blue);
  });

  it("create answers 409 (another registrar won the race): re-inspects, no second service", async () => {
    const { blue, orch } = await replay("create-conflict");
    await orch.ensure("alice", BLUE, secretFile);
    expectExactly(blue);
    expect(blue.requests.at(-1)!.method).to.equal("GET");
  });

  it("updateImage: the full spec on the new image, then Swarm's UpdateStatus until completed with a task of that image", async () => {
    const { blue, orch } = await replay("update-image-completed");
    const v2 = `registry.test/atplatform/atserver@sha256:${"cd".repeat(32)}`;
    expect(await orch.updateImage("alice", BLUE, secretFile, v2)).to.deep.equal({
      outcome: "updated",
    });
    expectExactly(blue);
  });

  it("updateImage: a task dying in the monitor window ends in Swarm's rollback, reported as rolled_back with its message", async () => {
    const { blue, orch } = await replay("update-image-rolled-back");
    const v2 = `registry.test/atplatform/atserver@sha256:${"cd".repeat(32)}`;
    expect(await orch.updateImage("alice", BLUE, secretFile, v2)).to.deep.equal({
      outcome: "rolled_back",
      reason: "rollback completed",
    });
    expectExactly(blue);
  });

  it("stop scales to 0 and waits for the task to end", async () => {
    const { blue, orch } = await replay("stop");
    await orch.stop("alice");
    expectExactly(blue);
  });

  it("remove deletes service and secrets and archives storage through a one-shot job", async () => {
    const { blue, orch } = await replay("remove");
    const res = await orch.remove("alice");
    expectExactly(blue);
    expect(res.archivedTo).to.equal(
      "/srv/atplatform/atservers/archive/" +
        "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90-20261123T210000000Z",
    );
  });

  it("remove with nothing stored reports no archive", async () => {
    const { blue, orch } = await replay("remove-absent");
    expect(await orch.remove("alice")).to.deep.equal({});
    expectExactly(blue);
  });

  it("move: stopped on blue before green starts it on the same storage path, then blue's service removed", async () => {
    const blue = await engine(loadFixture("move-blue").exchanges);
    const green = await engine(loadFixture("move-green").exchanges);
    const orch = new SwarmOrchestrator(
      orchestratorConfig(tls.client, { blue: blue.port, green: green.port }),
    );
    const order: string[] = [];
    const mark = (e: ReplayEngine, name: string) => {
      const push = e.requests.push.bind(e.requests);
      e.requests.push = (...r) => {
        order.push(`${name} ${r[0]!.method} ${r[0]!.path}`);
        return push(...r);
      };
    };
    mark(blue, "blue");
    mark(green, "green");
    await orch.move("alice", BLUE, GREEN, secretFile);
    expectExactly(blue);
    expectExactly(green);
    // Blue's task had ended before green created anything.
    const blueStopped = order.indexOf("blue GET /v1.43/tasks");
    const greenFirstCreate = order.indexOf("green POST /v1.43/services/create");
    expect(blueStopped).to.be.greaterThan(-1).and.lessThan(greenFirstCreate);
    const mounts = (r: { body?: unknown }) =>
      JSON.stringify(
        (r.body as { TaskTemplate: { ContainerSpec: { Mounts: unknown } } }).TaskTemplate
          .ContainerSpec.Mounts,
      );
    const greenService = green.requests.filter((r) => r.path === "/v1.43/services/create").at(-1)!;
    expect(mounts(greenService)).to.include(
      "/srv/atplatform/atservers/2b/2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90",
    );
  });

  it("ensure in green while blue still runs the atSign (a retried move): blue stopped first, then removed", async () => {
    const blue = await engine(loadFixture("move-blue").exchanges);
    const green = await engine(loadFixture("move-green").exchanges);
    const orch = new SwarmOrchestrator(
      orchestratorConfig(tls.client, { blue: blue.port, green: green.port }),
    );
    await orch.ensure("alice", GREEN, secretFile);
    expectExactly(blue);
    expectExactly(green);
  });

  it("inspect maps service and task state to AtServerStatus", async () => {
    const blue = await engine(loadFixture("inspect").exchanges);
    const green = await engine([
      {
        request: {
          method: "GET",
          path: "/v1.43/services",
          query: { filters: { label: ["atplatform.atsign=alice", "atplatform.kind=atserver"] } },
        },
        response: { status: 200, body: [] },
      },
    ]);
    const orch = new SwarmOrchestrator(
      orchestratorConfig(tls.client, { blue: blue.port, green: green.port }),
    );
    expect(await orch.inspect("alice")).to.deep.equal({
      state: "running",
      placement: { ...BLUE, memoryLimitMb: 50 },
      pid: 4242,
      restarts: 1,
    });
    expectExactly(blue);
    expectExactly(green);
  });

  it("a per-atSign memory override goes into the spec (Placement.memoryLimitMb)", async () => {
    const fx = loadFixture("ensure-new").exchanges;
    const blue = await engine(fx.map((e) => ({ ...e, request: { ...e.request } })));
    const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: blue.port }));
    // Only the final create differs from ensure-new: it answers 599 and is recorded.
    await orch.ensure("alice", { ...BLUE, memoryLimitMb: 250 }, secretFile).catch(() => undefined);
    const create = blue.requests.at(-1)!;
    const spec = create.body as {
      Labels: Record<string, string>;
      TaskTemplate: { Resources: { Limits: { MemoryBytes: number } } };
    };
    expect(spec.TaskTemplate.Resources.Limits.MemoryBytes).to.equal(250 * 1024 * 1024);
    expect(spec.Labels["atplatform.memory-mb"]).to.equal("250");
  });

  it("a swarm with a peer CA: CA secret reused by exact name, mounted, ATSERVER_CA set", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIBpeerca\n-----END CERTIFICATE-----\n";
    const blue = await engine(loadFixture("ensure-with-ca").exchanges);
    const cfg = orchestratorConfig(tls.client, { blue: blue.port });
    cfg.swarms[0]!.atServerCa = pem;
    await new SwarmOrchestrator(cfg).ensure("alice", BLUE, secretFile);
    expectExactly(blue);
  });

  it("adopts a storage job another registrar left (mkdir), then creates the service", async () => {
    const { blue, orch } = await replay("ensure-leftover-job");
    await orch.ensure("alice", BLUE, secretFile);
    expectExactly(blue);
    expect(creates(blue)).to.equal(1);
  });

  it("adopts an interrupted remove's archive job and reports the archive it made", async () => {
    const { blue, orch } = await replay("remove-leftover-job");
    const res = await orch.remove("alice");
    expectExactly(blue);
    expect(res.archivedTo).to.match(/-20261123T203000000Z$/);
  });

  describe("API errors and timeouts", () => {
    const LIST = {
      method: "GET",
      path: "/v1.43/services",
      query: { filters: { label: ["atplatform.atsign=alice", "atplatform.kind=atserver"] } },
    };

    async function failing(status: number, message: string): Promise<unknown> {
      const blue = await engine([{ request: LIST, response: { status, body: { message } } }]);
      const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: blue.port }));
      return orch.ensure("alice", BLUE, secretFile).then(
        () => expect.fail("ensure should fail"),
        (err: unknown) => err,
      );
    }

    it("500 -> EngineApiError with the status and the engine's message", async () => {
      const err = await failing(500, "rpc error: code = Unknown desc = boom");
      expect(err).to.be.instanceOf(EngineApiError);
      expect((err as EngineApiError).status).to.equal(500);
      expect((err as Error).message)
        .to.include("boom")
        .and.include("swarm blue");
    });

    it("404 -> EngineNotFoundError, 409 -> EngineConflictError", async () => {
      expect(await failing(404, "page not found")).to.be.instanceOf(EngineNotFoundError);
      expect(await failing(409, "conflict")).to.be.instanceOf(EngineConflictError);
    });

    it("a stalled engine -> EngineTimeoutError after the call deadline", async () => {
      const blue = await engine([{ request: LIST, response: { status: 0, stall: true } }]);
      const orch = new SwarmOrchestrator(
        orchestratorConfig(tls.client, { blue: blue.port }, { callTimeoutMs: 200 }),
      );
      const err = await orch.inspect("alice").catch((e: unknown) => e);
      expect(err).to.be.instanceOf(EngineTimeoutError);
      expect(blue.requests).to.have.length(1);
    });

    it("nothing listening -> EngineUnreachableError", async () => {
      const port = await freePort();
      const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: port }));
      expect(await orch.stop("alice").catch((e: unknown) => e)).to.be.instanceOf(
        EngineUnreachableError,
      );
    });

    it("a client certificate from another CA is refused -> EngineUnreachableError", async () => {
      const blue = await engine([]);
      const other = await createCertificateAuthority({ commonName: "not the swarm CA" });
      const leaf = await issueServerCertificate(other, { names: ["registrar.test"] });
      const orch = new SwarmOrchestrator(
        orchestratorConfig(
          { ca: tls.client.ca, cert: leaf.cert, key: leaf.key },
          { blue: blue.port },
        ),
      );
      expect(await orch.inspect("alice").catch((e: unknown) => e)).to.be.instanceOf(
        EngineUnreachableError,
      );
      expect(blue.requests).to.have.length(0);
    });

    it("a task that never stops -> EngineTimeoutError after stopTimeoutMs", async () => {
      const fx = loadFixture("stop").exchanges;
      const blue = await engine([fx[0]!, fx[1]!, { ...fx[2]!, repeat: true }]);
      const orch = new SwarmOrchestrator(
        orchestratorConfig(tls.client, { blue: blue.port }, { stopTimeoutMs: 100 }),
      );
      const err = await orch.stop("alice").catch((e: unknown) => e);
      expect(err).to.be.instanceOf(EngineTimeoutError);
      expect((err as Error).message).to.include("still running after stop");
      expect(blue.requests.slice(2).every((r) => r.path === "/v1.43/tasks")).to.equal(true);
    });

    it("a storage job that never finishes -> StorageJobError, and the job is removed", async () => {
      const fx = loadFixture("ensure-new").exchanges;
      const pending = structuredClone(fx[2]!);
      (pending.response.body as { Status: { State: string } }[])[0]!.Status.State = "pending";
      const blue = await engine([fx[0]!, fx[1]!, { ...pending, repeat: true }]);
      const orch = new SwarmOrchestrator(
        orchestratorConfig(tls.client, { blue: blue.port }, { jobTimeoutMs: 100 }),
      );
      const err = await orch.ensure("alice", BLUE, secretFile).catch((e: unknown) => e);
      expect((err as Error).name).to.equal("StorageJobError");
      expect((err as Error).message).to.include("did not finish in time");
      // The DELETE of the job came after the polls (answered 599 here: not in the fixture).
      expect(blue.requests.at(-1)).to.deep.include({
        method: "DELETE",
        path: "/v1.43/services/jobmk1",
      });
      expect(creates(blue)).to.equal(0);
    });

    it("a failed storage job is an error and the job service is still removed", async () => {
      const fx = loadFixture("ensure-new").exchanges.slice(0, 4);
      const failedTask = structuredClone(fx[2]!);
      (failedTask.response.body as { Status: Record<string, unknown> }[])[0]!.Status = {
        State: "failed",
        Err: "starting container failed: invalid mount config",
        ContainerStatus: { ExitCode: 1 },
      };
      const blue = await engine([fx[0]!, fx[1]!, failedTask, fx[3]!]);
      const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: blue.port }));
      const err = await orch.ensure("alice", BLUE, secretFile).catch((e: unknown) => e);
      expect((err as Error).name).to.equal("StorageJobError");
      expect((err as Error).message).to.include("invalid mount config");
      expectExactly(blue);
      expect(creates(blue)).to.equal(0);
    });
  });
});
