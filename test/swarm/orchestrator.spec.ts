// SwarmOrchestrator against a real Docker Engine in swarm mode, over the Engine API with
// mutual TLS as in production: provisioning, the atServer answering on its published port,
// secrets, data surviving a killed task, suspend/resume, image update, reset, delete, two
// registrars at once and a registrar restarting mid-operation.
import "../registrar/quiet";
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient, generateRsaKeyPair } from "@atplatform/protocol";
import { X509Certificate } from "node:crypto";
import {
  engineEndpoints,
  proberDeps,
  RegistrarStore,
  type AtSignRecord,
} from "@atplatform/registrar";
import { RegistrarMetrics } from "../../services/registrar/src/metrics";
import { PlatformProber } from "../../services/registrar/src/probe/platform-prober";
import { EngineClient } from "../../services/registrar/src/orchestrator/swarm/engine-client";
import {
  SwarmOrchestrator,
  type SwarmOrchestratorConfig,
} from "../../services/registrar/src/orchestrator/swarm";
import {
  archiveRelPath,
  serviceName,
  storageHostPath,
  storageJobSpec,
  storageRelPath,
} from "../../services/registrar/src/orchestrator/swarm/service-spec";
import { sleep } from "../support/docker/exec";
import type { TestDockerd } from "../support/docker/dockerd";
import {
  ownedDir,
  tempDir,
  tlsFiles,
  waitForAtServer,
  type Images,
  type TlsFiles,
  publishWildcard,
  testOrchestratorConfig,
  testSwarm,
} from "./harness";
import { sharedSwarm } from "./shared";

const CRAM = "cram-secret-alice-".padEnd(64, "0");

describe("swarm tier on a real Docker Engine: SwarmOrchestrator", function () {
  this.timeout(600_000);
  let d: TestDockerd;
  let images: Images;
  let dir: string;
  let storageRoot: string;
  let tls: TlsFiles;
  let cfg: SwarmOrchestratorConfig;
  let orch: SwarmOrchestrator;
  let secretFile: string;
  const placement = (port: number) => ({ swarm: "blue", host: d.address, port });

  before(async () => {
    let swarm;
    ({ swarm, images } = await sharedSwarm());
    d = swarm.leader;
    dir = tempDir("atp-orch-");
    // Stands in for the NFS share every node mounts at the same path.
    storageRoot = ownedDir(dir, "atservers");
    tls = await tlsFiles(dir, [d.address]);
    // What the swarm's maintenance job publishes: the wildcard pair as labelled secrets.
    await publishWildcard(d, tls, "test0001");
    secretFile = join(dir, "alice.cram");
    writeFileSync(secretFile, CRAM, { mode: 0o600 });
    cfg = testOrchestratorConfig(
      [
        testSwarm(d, {
          name: "blue",
          minPort: 30000,
          maxPort: 30099,
          image: images.atserver,
          storageRoot,
        }),
      ],
      images,
      `${d.address}:6400`,
      { updateMonitorMs: 3000 },
    );
    orch = new SwarmOrchestrator(cfg);
  });
  after(async () => {
    await orch?.close();
    const left = await d?.docker(["service", "ls", "-q"]).catch(() => undefined);
    const ids = left?.stdout.split(/\s+/).filter(Boolean) ?? [];
    if (ids.length > 0) await d.docker(["service", "rm", ...ids]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function running(atsign: string): Promise<void> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const st = await orch.inspect(atsign);
      if (st.state === "running") return;
      if (Date.now() > deadline) throw new Error(`${atsign} not running: ${JSON.stringify(st)}`);
      await sleep(500);
    }
  }

  /** The running task's container id (the node is this one: one node). */
  async function container(atsign: string): Promise<string> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const out = await d.docker([
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        `label=com.docker.swarm.service.name=${serviceName(atsign)}`,
      ]);
      const id = out.stdout.trim().split("\n")[0];
      if (id) return id;
      if (Date.now() > deadline) throw new Error(`no container for ${atsign}`);
      await sleep(500);
    }
  }

  async function secretNames(label: string): Promise<string[]> {
    const out = await d.docker([
      "secret",
      "ls",
      "--filter",
      `label=${label}`,
      "--format",
      "{{.Name}}",
    ]);
    return out.stdout.split("\n").filter(Boolean).sort();
  }

  async function connect(port: number, atSign = "@alice"): Promise<AtClient> {
    return waitForAtServer(d.address, port, tls.ca, atSign);
  }

  let pkamKey: string;

  it("provision → running → the atServer answers CRAM, PKAM, put/get on its published port", async () => {
    await orch.ensure("alice", placement(30001), secretFile);
    await running("alice");
    // Ensuring it again finds it by its labels and leaves it alone.
    const version = async () =>
      (
        await d.json<{ Version: { Index: number } }[]>(["service", "inspect", serviceName("alice")])
      )[0]!.Version.Index;
    const v1 = await version();
    await orch.ensure("alice", placement(30001), secretFile);
    expect(await version()).to.equal(v1);
    const c = await connect(30001);
    await c.cram(CRAM);
    const pkam = generateRsaKeyPair();
    pkamKey = pkam.privateKey;
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.pkam(pkam.privateKey);
    expect(await c.execute("update:public:location@alice lisbon")).to.match(/^\d+$/);
    expect(await c.execute("llookup:public:location@alice")).to.equal("lisbon");
    await c.close();
    const st = await orch.inspect("alice");
    expect(st).to.deep.include({
      state: "running",
      placement: { ...placement(30001), memoryLimitMb: 50 },
    });
  });

  it("the platform prober reads the Engine API's certificate (mutual TLS, as the orchestrator connects) and the swarm's atServer certificate", async () => {
    const store = new RegistrarStore(join(dir, "prober.sqlite"));
    const blue = { name: "blue", host: d.address, minPort: 30000, maxPort: 30099 };
    // alice as the registrar records her once active: on blue, port 30001.
    store.reserve("alice", { email: "alice@example.com", reservationTtlMs: 60_000 });
    let rec = store.allocate(store.request("alice", CRAM), blue, 30001) as AtSignRecord;
    for (const to of ["atserver_started", "healthy", "directory_written", "active"] as const)
      rec = store.transition(rec, to)!;
    const metrics = new RegistrarMetrics(store);
    const prober = new PlatformProber({
      store,
      swarms: [blue],
      settings: { intervalMs: 3_600_000, sampleSize: 1, timeoutMs: 5000 },
      // No root listens there: its lookups and certificate count as errors.
      deps: proberDeps({
        root: `${d.address}:6400`,
        engines: engineEndpoints(cfg.swarms),
        timeoutMs: 5000,
      }),
      sink: metrics,
    });
    await prober.runOnce();
    await prober.stop();
    const text = metrics.render();
    metrics.close();
    store.close();
    const expiry = (cert: string) => {
      const series = `atplatform_certificate_expiry_timestamp_seconds{cert="${cert}",target="blue"}`;
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return Number(line?.slice(series.length + 1));
    };
    const notAfter = (pem: string) =>
      Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
    const engineCert = readFileSync(join(d.dir, "tls", "cert.pem"), "utf8");
    expect(expiry("docker_api")).to.equal(notAfter(engineCert));
    expect(expiry("swarm_wildcard")).to.equal(notAfter(tls.cert));
    expect(text).to.include('registrar_directory_probe_total{result="error"} 1');
  });

  it("secrets and hardening: the CRAM secret mounted 0400 for uid 1024, not in the environment; read-only root; 50 MiB", async () => {
    expect(await secretNames("atplatform.atsign=alice")).to.have.length(1);
    const id = await container("alice");
    const probe =
      "const s=require('fs').statSync('/run/secrets/atserver-cram');" +
      "console.log((s.mode&0o777).toString(8), s.uid, s.gid)";
    expect((await d.docker(["exec", id, "node", "-e", probe])).stdout.trim()).to.equal(
      "400 1024 1024",
    );
    const [info] = await d.json<{ Config: { Env: string[] }; HostConfig: { Memory: number } }[]>([
      "inspect",
      id,
    ]);
    expect(info!.Config.Env.join("\n")).to.not.include(CRAM);
    // Nor anywhere in the service as the engine keeps it (only the secret holds it).
    const svc = (await d.docker(["service", "inspect", serviceName("alice")])).stdout;
    expect(svc).to.not.include(CRAM).and.not.include(Buffer.from(CRAM).toString("base64"));
    // The service's container: uid 1024 and a read-only root (only the storage mount writes).
    const write =
      "console.log(process.getuid());" +
      "try{require('fs').writeFileSync('/app/x','x');console.log('writable')}" +
      "catch(e){console.log(e.code)}";
    const out = (await d.docker(["exec", id, "node", "-e", write])).stdout.trim().split("\n");
    expect(out).to.deep.equal(["1024", "EROFS"]);
    expect(info!.HostConfig.Memory).to.equal(50 * 1024 * 1024);
  });

  it("data on the host storage directory survives docker kill of the task; the swarm starts a new one", async () => {
    const before = await container("alice");
    const store = storageHostPath(cfg.swarms[0]!, "alice");
    expect(statSync(store).uid).to.equal(1024);
    expect(readdirSync(store).length).to.be.above(0);
    await d.docker(["kill", before]);
    let after = before;
    const deadline = Date.now() + 180_000;
    while (after === before && Date.now() < deadline) {
      await sleep(500);
      after = await container("alice").catch(() => before);
    }
    expect(after).to.not.equal(before);
    const c = await connect(30001);
    await c.pkam(pkamKey);
    expect(await c.execute("llookup:public:location@alice")).to.equal("lisbon");
    await c.close();
    const st = await orch.inspect("alice");
    expect(st.state).to.equal("running");
    expect((st as { restarts?: number }).restarts).to.be.at.least(1);
  });

  it("suspend (stop) closes the port and keeps the data; resume (ensure) brings it back", async () => {
    await orch.stop("alice");
    expect((await orch.inspect("alice")).state).to.equal("stopped");
    const refused = await AtClient.connect({
      host: d.address,
      port: 30001,
      ca: tls.ca,
      atSign: "@alice",
      timeoutMs: 3000,
    }).then(
      (c) => c.close().then(() => false),
      () => true,
    );
    expect(refused).to.equal(true);
    await orch.ensure("alice", placement(30001), secretFile);
    await running("alice");
    const c = await connect(30001);
    await c.pkam(pkamKey);
    expect(await c.execute("llookup:public:location@alice")).to.equal("lisbon");
    await c.close();
  });

  it("an image update (updateImage, Swarm's UpdateConfig) rolls the service to the new image; the atServer answers with its data", async () => {
    const v2 = `${images.atserver.split(":")[0]}:v2-${Date.now()}`;
    await d.docker(["tag", images.atserver, v2]);
    const next = new SwarmOrchestrator({
      ...cfg,
      swarms: [{ ...cfg.swarms[0]!, image: v2 }],
    });
    const before = await container("alice");
    // ensure keeps a running service's image; only an image update changes it.
    await next.ensure("alice", placement(30001), secretFile);
    expect(await container("alice")).to.equal(before);
    expect(await next.updateImage("alice", placement(30001), secretFile, v2)).to.deep.equal({
      outcome: "updated",
    });
    await next.close();
    const deadline = Date.now() + 180_000;
    let image = "";
    let id = before;
    while ((image !== v2 || id === before) && Date.now() < deadline) {
      await sleep(500);
      id = await container("alice").catch(() => before);
      if (id !== before)
        image = (await d.docker(["inspect", "-f", "{{.Config.Image}}", id])).stdout.trim();
    }
    expect(image.split("@")[0]).to.equal(v2);
    const c = await connect(30001);
    await c.pkam(pkamKey);
    expect(await c.execute("llookup:public:location@alice")).to.equal("lisbon");
    await c.close();
  });

  it("two registrars ensure the same atSign at once: one service (the engine's 409 on the name)", async () => {
    const other = new SwarmOrchestrator(cfg);
    const bobCram = join(dir, "bob.cram");
    writeFileSync(bobCram, "cram-secret-bob", { mode: 0o600 });
    await Promise.all([
      orch.ensure("bob", placement(30002), bobCram),
      other.ensure("bob", placement(30002), bobCram),
    ]);
    await other.close();
    const services = await d.docker([
      "service",
      "ls",
      "--filter",
      "label=atplatform.atsign=bob",
      "--format",
      "{{.Name}}",
    ]);
    expect(services.stdout.trim().split("\n")).to.deep.equal([serviceName("bob")]);
    await running("bob");
  });

  it("a registrar restarting mid-operation converges: a left-over storage job is adopted", async () => {
    // What a registrar killed during the mkdir step leaves behind: its job, still running.
    const engine = new EngineClient(cfg.swarms[0]!, 30_000, "v1.41");
    await engine.call({
      method: "POST",
      path: "/services/create",
      body: storageJobSpec("mkdir", "carol", cfg.swarms[0]!, images.jobs, [
        storageRelPath("carol"),
      ]),
    });
    const restarted = new SwarmOrchestrator(cfg);
    const carolCram = join(dir, "carol.cram");
    writeFileSync(carolCram, "cram-secret-carol", { mode: 0o600 });
    await restarted.ensure("carol", placement(30003), carolCram);
    await restarted.close();
    await running("carol");
    const jobs = await d.docker([
      "service",
      "ls",
      "--filter",
      "label=atplatform.kind=storage-mkdir",
      "-q",
    ]);
    expect(jobs.stdout.trim()).to.equal("");
    const c = await connect(30003, "@carol");
    await c.cram("cram-secret-carol");
    await c.close();
  });

  it("a rotated CRAM secret on a running service: the new one mounted, the old one removed", async () => {
    const before = await secretNames("atplatform.atsign=carol");
    const rotated = join(dir, "carol-2.cram");
    writeFileSync(rotated, "cram-secret-carol-2", { mode: 0o600 });
    await orch.ensure("carol", placement(30003), rotated);
    const after = await secretNames("atplatform.atsign=carol");
    expect(after).to.have.length(1);
    expect(after[0]).to.not.equal(before[0]);
    const [svc] = await d.json<
      { Spec: { TaskTemplate: { ContainerSpec: { Secrets: { SecretName: string }[] } } } }[]
    >(["service", "inspect", serviceName("carol")]);
    expect(svc!.Spec.TaskTemplate.ContainerSpec.Secrets.map((x) => x.SecretName)).to.include(
      after[0],
    );
    await running("carol");
  });

  it("reset: remove archives the data; ensure with a new CRAM secret starts empty and only the new secret works", async () => {
    const { archivedTo } = await orch.remove("bob");
    expect(archivedTo).to.be.a("string");
    const newCram = join(dir, "bob-2.cram");
    writeFileSync(newCram, "cram-secret-bob-2", { mode: 0o600 });
    await orch.ensure("bob", placement(30002), newCram);
    await running("bob");
    const c = await connect(30002, "@bob");
    const old = await c.cram("cram-secret-bob").then(
      () => "accepted",
      () => "refused",
    );
    expect(old).to.equal("refused");
    await c.close();
    const c2 = await connect(30002, "@bob");
    await c2.cram("cram-secret-bob-2");
    await c2.close();
    expect(await secretNames("atplatform.atsign=bob")).to.have.length(1);
  });

  it("delete: nothing left (service, the atSign's secrets, jobs); the storage archived with its atSign", async () => {
    const store = storageHostPath(cfg.swarms[0]!, "alice");
    const { archivedTo } = await orch.remove("alice");
    expect((await orch.inspect("alice")).state).to.equal("absent");
    const left = await d.docker([
      "service",
      "ls",
      "--filter",
      "label=atplatform.atsign=alice",
      "-q",
    ]);
    expect(left.stdout.trim()).to.equal("");
    expect(await secretNames("atplatform.atsign=alice")).to.deep.equal([]);
    expect(existsSync(store)).to.equal(false);
    expect(archivedTo!.startsWith(join(storageRoot, "archive"))).to.equal(true);
    expect(readFileSync(join(archivedTo!, "atsign.txt"), "utf8").trim()).to.equal("alice");
    // The wildcard pair is the swarm's, not the atSign's: it stays.
    expect(await secretNames("atplatform.tls=wildcard")).to.have.length(2);
    // An interrupted remove (service gone, its archive job left running): adopted, and the
    // archive it made is reported.
    await d.docker(["service", "rm", serviceName("carol")]);
    const rel = archiveRelPath("carol", new Date("2026-01-02T03:04:05Z"));
    await new EngineClient(cfg.swarms[0]!, 30_000, "v1.41").call({
      method: "POST",
      path: "/services/create",
      body: storageJobSpec("archive", "carol", cfg.swarms[0]!, images.jobs, [
        storageRelPath("carol"),
        rel,
        "carol",
      ]),
    });
    expect((await orch.remove("carol")).archivedTo).to.equal(join(storageRoot, rel));
    expect(await secretNames("atplatform.atsign=carol")).to.deep.equal([]);
    await orch.remove("bob");
    // Nothing stored: nothing archived.
    expect(await orch.remove("nobody")).to.deep.equal({});
    const all = await d.docker(["service", "ls", "-q"]);
    expect(all.stdout.trim()).to.equal("");
  });
});
