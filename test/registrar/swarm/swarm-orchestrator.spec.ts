// SwarmOrchestrator against recorded Engine API answers, only for what the real engine in
// test/swarm cannot show (or not cheaply): injected errors, stalls, call order across two
// engines, crash windows. Everything else runs against a real dockerd there.
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

  // Fixture kept: Swarm's UpdateStatus sequence (updating → completed, or a task dying in the
  // monitor window → rollback_completed) at exact steps; test/swarm/rollout.spec.ts shows the
  // outcome on a real engine, not every intermediate state.
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

  // Fixture kept: the order of calls across the two engines (blue's task ended before green's
  // first create) is what is checked; on real engines (test/swarm/move.spec.ts) only the outcome shows.
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

  // Fixture kept: a move retried after a crash between the two swarms' steps cannot be staged on
  // real engines without killing the registrar mid-call at an exact request.
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

  // Fixture kept: only the request body matters here; the real engine (test/swarm) shows the default
  // limit applied, and a second real service for another number would cost a task start.
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

    // Fixture kept: a real engine cannot be made to answer 500 on demand.
    it("500 -> EngineApiError with the status and the engine's message", async () => {
      const err = await failing(500, "rpc error: code = Unknown desc = boom");
      expect(err).to.be.instanceOf(EngineApiError);
      expect((err as EngineApiError).status).to.equal(500);
      expect((err as Error).message)
        .to.include("boom")
        .and.include("swarm blue");
    });

    // Fixture kept: the error mapping for answers on a path where a real engine would not give them.
    it("404 -> EngineNotFoundError, 409 -> EngineConflictError", async () => {
      expect(await failing(404, "page not found")).to.be.instanceOf(EngineNotFoundError);
      expect(await failing(409, "conflict")).to.be.instanceOf(EngineConflictError);
    });

    // Fixture kept: a real engine that accepts a request and never answers cannot be staged.
    it("a stalled engine -> EngineTimeoutError after the call deadline", async () => {
      const blue = await engine([{ request: LIST, response: { status: 0, stall: true } }]);
      const orch = new SwarmOrchestrator(
        orchestratorConfig(tls.client, { blue: blue.port }, { callTimeoutMs: 200 }),
      );
      const err = await orch.inspect("alice").catch((e: unknown) => e);
      expect(err).to.be.instanceOf(EngineTimeoutError);
      expect(blue.requests).to.have.length(1);
    });

    // No engine at all: a closed port.
    it("nothing listening -> EngineUnreachableError", async () => {
      const port = await freePort();
      const orch = new SwarmOrchestrator(orchestratorConfig(tls.client, { blue: port }));
      expect(await orch.stop("alice").catch((e: unknown) => e)).to.be.instanceOf(
        EngineUnreachableError,
      );
    });

    // Replay server kept: only its TLS handshake (client certificates verified) is used; no fixture.
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

    // Fixture kept: a real task that never stops holds the suite for its stop grace period.
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

    // Fixture kept: a real job that never finishes would hold the suite until it is removed.
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

    // Fixture kept: a real failed job (a bind mount whose source is missing) would cost a task start
    // for the error path alone; the shape of the engine's failed task is what is replayed.
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
