// The multi-node swarm formed by the swarm VMs' own startup script (components/scripts/
// swarm-node.sh, unchanged logic, its VM-only calls behind test/support/gce/vm-seam.sh):
// three managers and two workers, each a dockerd in its own network namespace with its own
// hostname, a fake GCE metadata server and a fake Secret Manager on the host's bridge
// address. One cluster for the whole file, in this order: formation, Engine API certificate
// rotation without a restart, quorum with a manager killed, that manager recreated and its
// stale entry removed, and an atServer rescheduled off a worker being scaled in (`leave`)
// with its data on the shared directory that stands in for the NFS share.
import "../registrar/quiet";
import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect, type PeerCertificate } from "node:tls";
import {
  createCertificateAuthority,
  generateRsaKeyPair,
  issueServerCertificate,
  type Pem,
} from "@atplatform/protocol";
import { publishedPem, wildcardSecretNames } from "../../components/swarm-engine";
import { EngineClient } from "../../services/registrar/src/orchestrator/swarm/engine-client";
import { EngineUnreachableError } from "../../services/registrar/src/orchestrator/swarm/errors";
import {
  SwarmOrchestrator,
  type SwarmConfig,
} from "../../services/registrar/src/orchestrator/swarm";
import {
  serviceName,
  storageHostPath,
} from "../../services/registrar/src/orchestrator/swarm/service-spec";
import { ENGINE_PORT, TestDockerd } from "../support/docker/dockerd";
import { run, sleep } from "../support/docker/exec";
import { baseImage, jobImage, serviceImage } from "../support/docker/images";
import { TestSwarm } from "../support/docker/swarm";
import { FakeMetadataServer } from "../support/gce/metadata-server";
import { FakeSecretManager } from "../support/gce/secret-manager";
import { testCa } from "../support/test-ca";
import { tempDir, waitForAtServer } from "./harness";
import { ScriptedNode, type ScriptCloud } from "./scripted-node";

const HOUR_DAYS = 1 / 24;
/** pki.ts back-dates notBefore by an hour: this many days is valid for `seconds` from now. */
const validFor = (seconds: number) => HOUR_DAYS + seconds / 86_400;
const CRAM = "cram-secret-carol-".padEnd(64, "0");

interface NodeRow {
  ID: string;
  Hostname: string;
  Status: string;
  ManagerStatus: string;
}

describe("swarm tier on a real Docker Engine: swarm-node.sh forms three managers and two workers", function () {
  this.timeout(600_000);
  let swarm: TestSwarm;
  let metadata: FakeMetadataServer;
  let secrets: FakeSecretManager;
  let dir: string;
  let share: string;
  let managers: ScriptedNode[] = [];
  let workers: ScriptedNode[] = [];
  let caCert: string;
  let engineCert1: Pem;
  let engineCert1Expiry: number;
  let images: { jobs: string; atserver: string } | undefined;
  let loadingImages: Promise<{ jobs: string; atserver: string }>;
  let clientFiles: { ca: string; cert: string; key: string };
  let orch: SwarmOrchestrator | undefined;

  before(async () => {
    dir = tempDir("atp-multi-");
    share = join(dir, "filestore");
    mkdirSync(share);
    swarm = await TestSwarm.start({
      managers: 3,
      workers: 2,
      name: "multi",
      form: false,
      // Managers are <swarm>-mgr-<n>: the script finds its index (0 bootstraps) in the name.
      hostnames: (role, i) => (role === "manager" ? `multi-mgr-${i}` : `multi-wkr-${i + 1}`),
    });
    const host = swarm.network.hostAddress;
    metadata = await FakeMetadataServer.start(host);
    secrets = await FakeSecretManager.start(host, "test-proj", metadata.token);
    // What `pulumi up` stores: the Docker API CA and a server certificate for the managers'
    // addresses, here valid for 20 seconds only (rotated below; about the time the boot takes).
    const ca = await testCa();
    caCert = ca.cert;
    engineCert1 = await issueServerCertificate(ca, {
      names: swarm.managers.map((m) => m.address),
      validDays: validFor(20),
    });
    engineCert1Expiry = new Date(new X509Certificate(engineCert1.cert).validTo).getTime();
    secrets.put("multi-docker-ca", ca.cert);
    secrets.put("multi-docker-cert", engineCert1.cert);
    secrets.put("multi-docker-key", engineCert1.key);
    // The swarm's wildcard certificate, published by manager 0's maintenance as Docker secrets.
    const wildcard = await issueServerCertificate(ca, {
      names: swarm.workers.map((w) => w.address),
    });
    secrets.put("multi-tls-cert", wildcard.cert);
    secrets.put("multi-tls-key", wildcard.key);
    const cloud: ScriptCloud = {
      metadata,
      secrets,
      share,
      vars: {
        swarm: "multi",
        project: "test-proj",
        region: "europe-west2",
        swarmDomain: "multi.swarms.test",
        managerIps: swarm.managers.map((m) => m.address),
        nfsServer: "10.60.8.2",
        nfsShare: "atservers",
        dockerSecretPrefix: "multi-docker",
        aptSnapshot: "20261101T000000Z",
        opsAgentVersion: "2.58.0",
        tlsSecretPrefix: "multi-tls",
        tlsMode: "private-ca",
        imagesSecret: "multi-images",
      },
    };
    managers = swarm.managers.map((d) => new ScriptedNode(d, "manager", cloud));
    workers = swarm.workers.map((d) => new ScriptedNode(d, "worker", cloud));
    const loading = (async () => {
      const [first, second] = swarm.workers as [TestDockerd, TestDockerd];
      const base = await baseImage(first);
      const out = {
        jobs: await jobImage(first),
        atserver: await serviceImage(first, "atserver", base),
      };
      // The same images onto the other worker, without building (or hashing) them again.
      await run(
        "sh",
        [
          "-c",
          'docker -H "unix://$0" save "$2" "$3" | docker -H "unix://$1" load -q',
          first.socket,
          second.socket,
          out.jobs,
          out.atserver,
        ],
        { timeout: 600_000 },
      );
      return out;
    })();
    // Every VM boots at once, as a new swarm's instance groups do. The workers' images (no
    // registry here; production pre-pulls by digest) load meanwhile and until the scale-in
    // test needs them.
    loadingImages = loading;
    loading.catch(() => undefined);
    await Promise.all([...managers, ...workers].map((n) => n.run("boot")));
  });

  after(async () => {
    await loadingImages?.catch(() => undefined);
    await orch?.close();
    await swarm?.stop();
    for (const n of [...managers, ...workers]) await n.destroy();
    await metadata?.close();
    await secrets?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const leader = () => managers[0]!.dockerd;

  async function nodes(): Promise<NodeRow[]> {
    const out = await leader().docker(["node", "ls", "--format", "{{json .}}"]);
    return out.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as NodeRow)
      .sort((a, b) => a.Hostname.localeCompare(b.Hostname));
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(500);
    }
  }

  /** The certificate a manager's Engine API endpoint presents (strict: `verify`). */
  function engineCertificate(
    address: string,
    client: Pem,
    verify: boolean,
  ): Promise<PeerCertificate> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect(
        { host: address, port: ENGINE_PORT, ca: caCert, ...client, rejectUnauthorized: verify },
        () => {
          const cert = s.getPeerCertificate();
          s.destroy();
          resolve(cert);
        },
      );
      s.setTimeout(10_000, () => s.destroy(new Error("TLS handshake timed out")));
      s.on("error", reject);
    });
  }

  /** GET /version through a manager's endpoint (server certificate not checked here). */
  function engineHttp(address: string, client: Pem): Promise<string> {
    return new Promise((resolve, reject) => {
      let got = "";
      const s = tlsConnect(
        { host: address, port: ENGINE_PORT, ...client, rejectUnauthorized: false },
        () => s.write("GET /v1.41/version HTTP/1.0\r\nHost: docker\r\n\r\n"),
      );
      s.setTimeout(10_000, () => s.destroy(new Error("no answer")));
      s.on("data", (d: Buffer) => (got += d.toString()));
      s.on("error", reject);
      s.on("close", () => (got ? resolve(got) : reject(new Error("closed without an answer"))));
    });
  }

  const serial = (pem: string) => new X509Certificate(pem).serialNumber.toUpperCase();

  function engineSwarm(address: string, files?: typeof clientFiles, pems?: Pem): SwarmConfig {
    return {
      name: "multi",
      engine: {
        host: address,
        port: ENGINE_PORT,
        ca: caCert,
        ...(pems ?? { cert: "", key: "" }),
        files,
      },
      publicHost: swarm.workers[0]!.address,
      minPort: 30000,
      maxPort: 30099,
      image: images?.atserver ?? "not-loaded-yet",
      storageRoot: join(share, "atservers"),
      publishMode: "host",
    };
  }

  it("boot on every VM forms one swarm: manager 0 initialises, the others join with the tokens from Secret Manager; the share is mounted; managers serve the Engine API with mutual TLS", async () => {
    const rows = await nodes();
    expect(rows.map((r) => [r.Hostname, r.Status, r.ManagerStatus])).to.deep.equal([
      ["multi-mgr-0", "Ready", "Leader"],
      ["multi-mgr-1", "Ready", "Reachable"],
      ["multi-mgr-2", "Ready", "Reachable"],
      ["multi-wkr-1", "Ready", ""],
      ["multi-wkr-2", "Ready", ""],
    ]);
    // Each node advertises the address the metadata server gave it.
    for (const n of [...managers, ...workers]) {
      const info = await n.dockerd.docker(["info", "--format", "{{.Swarm.NodeAddr}} {{.Name}}"]);
      expect(info.stdout.trim()).to.equal(`${n.dockerd.address} ${n.dockerd.hostname}`);
    }
    // The tokens were stored by manager 0 and read by the others; workers never read the
    // manager token.
    expect(secrets.latest("multi-manager-token")).to.match(/^SWMTKN-1-/);
    const workerAddrs = new Set(swarm.workers.map((w) => w.address));
    const workerReads = secrets.calls.filter((c) => workerAddrs.has(c.split(" ")[0]!));
    expect(workerReads.some((c) => c.endsWith("access multi-worker-token"))).to.equal(true);
    expect(workerReads.filter((c) => /manager-token|docker-/.test(c))).to.deep.equal([]);
    // The overlay pool and the large ingress of components/network.ts.
    const ingress = await leader().docker([
      "network",
      "inspect",
      "ingress",
      "--format",
      "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ]);
    expect(ingress.stdout.trim()).to.equal("10.96.0.0/16");
    // The share (a bind mount of the stand-in directory) with the atServers' directory.
    expect(statSync(join(share, "atservers")).uid).to.equal(1024);
    // Every manager's :2376 is stunnel (pid from the script's unit) in front of dockerd.
    const client = await issueServerCertificate(await testCa(), { names: ["registrar.test"] });
    for (const m of managers) {
      expect(m.enginePid(), m.dockerd.hostname).to.be.a("number");
      const cert = await until("the Engine API endpoint", () =>
        engineCertificate(m.dockerd.address, client, false),
      );
      expect(cert.serialNumber.toUpperCase()).to.equal(serial(engineCert1.cert));
    }
    // Through it, dockerd answers a client with a certificate from the Docker CA, and no one
    // else.
    expect(await engineHttp(managers[1]!.dockerd.address, client)).to.match(/^HTTP\/1\.0 200/);
    const stranger = await issueServerCertificate(await createCertificateAuthority(), {
      names: ["stranger.test"],
    });
    const refused = await engineHttp(managers[1]!.dockerd.address, stranger).catch((e: Error) => e);
    expect(refused).to.be.instanceOf(Error);
  });

  it("12.6: a re-issued Engine API certificate reaches every manager (maintain) and the registrar's client (mounted files) with no restart of dockerd, the endpoint or the registrar", async () => {
    // The first certificate was valid for 20 s: by now it has expired and fails.
    if (Date.now() < engineCert1Expiry + 1000) await sleep(engineCert1Expiry + 1000 - Date.now());
    const ca = await testCa();
    const client = await issueServerCertificate(ca, { names: ["registrar.test"] });
    const expiredErr = await engineCertificate(managers[1]!.dockerd.address, client, true).catch(
      (e: { code?: string }) => e,
    );
    expect((expiredErr as { code?: string }).code).to.equal("CERT_HAS_EXPIRED");
    const pids = managers.map((m) => [m.dockerd.pid, m.enginePid()]);

    const engineCert2 = await issueServerCertificate(ca, {
      names: swarm.managers.map((m) => m.address),
    });
    secrets.put("multi-docker-cert", engineCert2.cert);
    secrets.put("multi-docker-key", engineCert2.key);
    // What each manager's maintenance timer runs.
    const logs = await Promise.all(managers.map((m) => m.run("maintain")));
    for (const log of logs) expect(log).to.include("Engine API certificate reloaded");
    for (const m of managers) {
      const cert = await engineCertificate(m.dockerd.address, client, true);
      expect(cert.serialNumber.toUpperCase()).to.equal(serial(engineCert2.cert));
    }
    expect(managers.map((m) => [m.dockerd.pid, m.enginePid()])).to.deep.equal(pids);
    for (const [d, e] of pids) for (const pid of [d!, e!]) process.kill(pid, 0);
    // A second run finds nothing new and reloads nothing.
    expect(await managers[0]!.run("maintain")).to.not.include("reloaded");

    // The registrar's side: its client certificate, from files, expired; then replaced.
    const clientDir = join(dir, "registrar-engine-tls");
    mkdirSync(clientDir);
    clientFiles = {
      ca: join(clientDir, "ca.pem"),
      cert: join(clientDir, "cert.pem"),
      key: join(clientDir, "key.pem"),
    };
    const writeClient = (pem: Pem) => {
      writeFileSync(clientFiles.ca, caCert);
      writeFileSync(clientFiles.cert, pem.cert);
      writeFileSync(clientFiles.key, pem.key, { mode: 0o600 });
    };
    const old = await issueServerCertificate(ca, {
      names: ["registrar.test"],
      validDays: HOUR_DAYS / 2,
    });
    writeClient(old);
    const engine = new EngineClient(
      engineSwarm(managers[0]!.dockerd.address, clientFiles, old),
      10_000,
      "v1.41",
    );
    const failed = await engine.call({ method: "GET", path: "/info" }).catch((e: unknown) => e);
    expect(failed).to.be.instanceOf(EngineUnreachableError);
    writeClient(await issueServerCertificate(ca, { names: ["registrar.test"] }));
    const info = await engine.call<{ Swarm: { Nodes: number; Managers: number } }>({
      method: "GET",
      path: "/info",
    });
    expect([info.Swarm.Nodes, info.Swarm.Managers]).to.deep.equal([5, 3]);
  });

  it("quorum holds with one manager killed: the other two still accept writes and see it down", async () => {
    await managers[2]!.dockerd.kill();
    await managers[2]!.destroy();
    // Raft needs 2 of 3: a write through another manager still commits.
    await managers[1]!.dockerd.docker(["network", "create", "-d", "overlay", "quorum-check"], {
      timeoutMs: 120_000,
    });
    const listed = await leader().docker(["network", "ls", "--filter", "name=quorum-check", "-q"]);
    expect(listed.stdout.trim()).to.not.equal("");
    const row = await until("multi-mgr-2 unreachable and down", async () => {
      const r = (await nodes()).find((x) => x.Hostname === "multi-mgr-2");
      return r?.ManagerStatus === "Unreachable" && r.Status === "Down" ? r : undefined;
    });
    expect(row.ManagerStatus).to.equal("Unreachable");
  });

  it("the destroyed manager, recreated with its name and address, rejoins through the script and its stale entry is removed: three reachable managers again", async () => {
    const old = managers[2]!;
    const staleId = (await nodes()).find((r) => r.Hostname === "multi-mgr-2")!.ID;
    await old.dockerd.stop();
    const fresh = await TestDockerd.start(old.dockerd.node, "multi-mgr-2", { engineTls: false });
    swarm.managers[2] = fresh;
    const node = new ScriptedNode(fresh, "manager", old.cloud);
    managers[2] = node;
    const log = await node.run("boot");
    expect(log).to.include("joined swarm multi as manager");
    expect(log).to.include(`removing stale swarm entry ${staleId}`);
    const rows = await until("three reachable managers", async () => {
      const r = await nodes();
      return r.filter((x) => x.ManagerStatus === "Reachable" || x.ManagerStatus === "Leader")
        .length === 3
        ? r
        : undefined;
    });
    expect(rows.map((r) => [r.Hostname, r.Status])).to.deep.equal([
      ["multi-mgr-0", "Ready"],
      ["multi-mgr-1", "Ready"],
      ["multi-mgr-2", "Ready"],
      ["multi-wkr-1", "Ready"],
      ["multi-wkr-2", "Ready"],
    ]);
    expect(rows.map((r) => r.ID)).to.not.include(staleId);
    // It serves the Engine API with the current (rotated) certificate from Secret Manager.
    const client = await issueServerCertificate(await testCa(), { names: ["registrar.test"] });
    const cert = await until("the recreated manager's Engine API", () =>
      engineCertificate(fresh.address, client, true),
    );
    expect(cert.serialNumber.toUpperCase()).to.equal(serial(secrets.latest("multi-docker-cert")!));
  });

  it("a worker being scaled in leaves first: its atServer is rescheduled to the other worker at once and the owner's data on the shared directory is still there; maintain forgets the node", async () => {
    images = await loadingImages;
    // private-ca mode: the stack's second step of `up` (components/swarm-engine.ts) declares
    // the wildcard pair as Docker secrets under the names tls_sync expects; manager 0's
    // maintenance then finds it there and moves services onto it.
    const names = wildcardSecretNames(secrets.latest("multi-tls-cert")!);
    for (const [name, secret] of [
      [names.crt, "multi-tls-cert"],
      [names.key, "multi-tls-key"],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, publishedPem(secrets.latest(secret)!), { mode: 0o600 });
      await leader().docker(["secret", "create", "--label=atplatform.tls=wildcard", name, file]);
      rmSync(file);
    }
    const sync = await managers[0]!.run("maintain");
    const published = await leader().docker([
      "secret",
      "ls",
      "--filter",
      "label=atplatform.tls=wildcard",
      "--format",
      "{{.Name}}",
    ]);
    expect(published.stdout.trim().split("\n")).to.have.length(2);
    expect(sync).to.not.contain("not yet published by the stack");
    const cramFile = join(dir, "carol.cram");
    writeFileSync(cramFile, CRAM, { mode: 0o600 });
    orch = new SwarmOrchestrator({
      swarms: [
        engineSwarm(managers[0]!.dockerd.address, clientFiles, {
          cert: readFileSync(clientFiles.cert, "utf8"),
          key: readFileSync(clientFiles.key, "utf8"),
        }),
      ],
      rootAddress: `${managers[0]!.dockerd.address}:6400`,
      apiVersion: "v1.41",
      jobImage: images.jobs,
      callTimeoutMs: 30_000,
      jobTimeoutMs: 180_000,
      stopTimeoutMs: 120_000,
      pollMs: 250,
    });
    const port = 30007;
    await orch.ensure("carol", { swarm: "multi", host: swarm.workers[0]!.address, port }, cramFile);
    const runningOn = (exclude?: string) =>
      until(
        "carol's task running",
        async () => {
          const out = await leader().docker([
            "service",
            "ps",
            serviceName("carol"),
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
          ]);
          const row = out.stdout
            .split("\n")
            .find((l) => l.includes(" Running") && (!exclude || !l.startsWith(`${exclude} `)));
          return row?.split(" ")[0];
        },
        240_000,
      );
    const first = await runningOn();
    const from = workers.find((w) => w.dockerd.hostname === first)!;
    const to = workers.find((w) => w !== from)!;
    let c = await waitForAtServer(from.dockerd.address, port, caCert, "@carol");
    await c.cram(CRAM);
    const pkam = generateRsaKeyPair();
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.pkam(pkam.privateKey);
    await c.execute("update:public:city@carol porto");
    await c.close();
    const store = storageHostPath(engineSwarm(""), "carol");
    expect(readdirSync(store).length).to.be.above(0);

    // GCE's shutdown script on the instance being removed.
    const log = await from.run("leave");
    expect(log).to.include("left swarm multi");
    const state = await from.dockerd.docker(["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    expect(state.stdout.trim()).to.equal("inactive");
    // Its atServer container is gone with it (no second writer on the share).
    const left = await from.dockerd.docker([
      "ps",
      "-q",
      "--filter",
      `label=com.docker.swarm.service.name=${serviceName("carol")}`,
    ]);
    expect(left.stdout.trim()).to.equal("");
    expect(await runningOn(first)).to.equal(to.dockerd.hostname);
    c = await waitForAtServer(to.dockerd.address, port, caCert, "@carol");
    await c.pkam(pkam.privateKey);
    expect(await c.execute("llookup:public:city@carol")).to.equal("porto");
    await c.close();

    // The autoscaler deletes the VM; manager 0's maintenance removes the departed node.
    await managers[0]!.run("maintain");
    const after = (await nodes()).map((r) => r.Hostname);
    expect(after).to.not.include(first);
    expect(after).to.have.length(4);
  });
});
