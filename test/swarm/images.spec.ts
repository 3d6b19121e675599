// The atserver, directory and registrar images built from their real Dockerfiles (on a
// base image made from this machine's Node: no registry here) and run by a real dockerd:
// non-root, read-only root filesystem, each answering its protocol; the atServer through
// a realistic workload under the production memory limit (50 MB).
import { expect } from "chai";
import { chownSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtClient, generateRsaKeyPair, lookupAtServer } from "@atplatform/protocol";
import type { TestSwarm } from "../support/docker/swarm";
import { sharedSwarm } from "./shared";
import type { TestDockerd } from "../support/docker/dockerd";
import {
  IMAGE_UID,
  ownedDir,
  tempDir,
  tlsFiles,
  waitForAtServer,
  waitForHttp,
  waitForTls,
  type Images,
  type TlsFiles,
} from "./harness";

const CRAM = "5f1c0a9e".repeat(16);

interface ContainerState {
  Running: boolean;
  OOMKilled: boolean;
  ExitCode: number;
}

describe("swarm tier on a real Docker Engine: the images", function () {
  this.timeout(600_000);
  let swarm: TestSwarm;
  let d: TestDockerd;
  let images: Images;
  let dir: string;
  let tls: TlsFiles;

  before(async () => {
    ({ swarm, images } = await sharedSwarm());
    d = swarm.leader;
    dir = tempDir("atp-images-");
    tls = await tlsFiles(dir, [d.address]);
    writeFileSync(join(tls.dir, "cram"), CRAM, { mode: 0o400 });
    chownSync(join(tls.dir, "cram"), IMAGE_UID, IMAGE_UID);
  });
  after(async () => {
    await d
      ?.docker(["rm", "-f", "atserver-plain", "atserver-mem", "directory", "registrar"])
      .catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function atServerArgs(name: string, port: number, storage: string): string[] {
    return [
      "run",
      "-d",
      `--name=${name}`,
      "--read-only",
      "--network=host",
      "-v",
      `${tls.dir}:/certs:ro`,
      "-v",
      `${storage}:/atsign/storage`,
      "-e",
      "ATSERVER_ATSIGN=@alice",
      "-e",
      `ATSERVER_PORT=${port}`,
      "-e",
      "ATSERVER_HOST=0.0.0.0",
      "-e",
      "ATSERVER_CERT=/certs/cert.pem",
      "-e",
      "ATSERVER_KEY=/certs/key.pem",
      "-e",
      "ATSERVER_STORAGE=/atsign/storage",
      "-e",
      "ATSERVER_CRAM_SECRET_FILE=/certs/cram",
      "-e",
      "ATSERVER_ROOT=127.0.0.1:64",
    ];
  }

  /** On failure, the container's own output is the useful part of the message. */
  async function withLogs<T>(name: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const logs = await d.docker(["logs", "--tail=30", name]).catch(() => undefined);
      (err as Error).message += `\n${name} logs:\n${logs?.stdout ?? ""}${logs?.stderr ?? ""}`;
      throw err;
    }
  }

  /** The image's user and its read-only root, seen from inside the running container. */
  async function expectNonRootReadOnly(name: string): Promise<void> {
    const probe =
      "console.log(process.getuid()+':'+process.getgid());" +
      "try{require('fs').writeFileSync('/app/probe','x');console.log('writable')}" +
      "catch(e){console.log(e.code)}";
    const out = (await d.docker(["exec", name, "node", "-e", probe])).stdout.trim().split("\n");
    expect(out).to.deep.equal([`${IMAGE_UID}:${IMAGE_UID}`, "EROFS"]);
  }

  async function onboard(port: number): Promise<{ c: AtClient; pkam: string }> {
    const c = await waitForAtServer(d.address, port, tls.ca, "@alice");
    await c.cram(CRAM);
    const pkam = generateRsaKeyPair();
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.pkam(pkam.privateKey);
    expect(c.prompt).to.equal("@alice@");
    return { c, pkam: pkam.privateKey };
  }

  it("atserver image: uid 1024, read-only root, answers TLS + CRAM, PKAM, put/get; start-to-first-answer", async () => {
    const storage = ownedDir(dir, "storage-plain");
    const t0 = Date.now();
    await d.docker([...atServerArgs("atserver-plain", 6464, storage), images.atserver]);
    const first = await withLogs(
      "atserver-plain",
      waitForAtServer(d.address, 6464, tls.ca, "@alice"),
    );
    const startMs = Date.now() - t0;
    await first.close();
    const { c, pkam } = await onboard(6464);
    expect(await c.execute("update:public:greeting@alice hello")).to.match(/^\d+$/);
    expect(JSON.parse(await c.execute("llookup:all:public:greeting@alice")).data).to.equal("hello");
    await c.close();
    // A new connection authenticates with the PKAM key alone and reads the same data.
    const again = await AtClient.connect({
      host: d.address,
      port: 6464,
      ca: tls.ca,
      atSign: "@alice",
      timeoutMs: 5000,
    });
    await again.pkam(pkam);
    expect(await again.execute("llookup:public:greeting@alice")).to.equal("hello");
    await again.close();
    await expectNonRootReadOnly("atserver-plain");
    console.log(`      atserver container: start to first answer ${startMs} ms`);
  });

  it("atserver image under --memory 50m: onboarding, 400 puts and gets, 100 notifications; not OOM-killed", async () => {
    const storage = ownedDir(dir, "storage-mem");
    await d.docker([
      ...atServerArgs("atserver-mem", 6465, storage),
      "--memory=50m",
      "--memory-swap=50m",
      images.atserver,
    ]);
    const { c } = await onboard(6465);
    const value = "v".repeat(1024);
    for (let i = 0; i < 400; i++) await c.execute(`update:public:k${i}.load@alice ${value}${i}`);
    for (let i = 0; i < 400; i += 7)
      expect(JSON.parse(await c.execute(`llookup:all:public:k${i}.load@alice`)).data).to.equal(
        `${value}${i}`,
      );
    // Notifications to itself: stored, delivered and listed (no second atSign needed).
    for (let i = 0; i < 100; i++) {
      const id = await c.execute(`notify:update:@alice:n${i}.load@alice:${value}`);
      expect(await c.execute(`notify:status:${id}`)).to.equal("delivered");
    }
    expect(await c.execute("notify:list:n99.load")).to.include("n99.load@alice");
    await c.close();
    const [info] = await d.json<{ State: ContainerState; HostConfig: { Memory: number } }[]>([
      "inspect",
      "atserver-mem",
    ]);
    expect(info!.HostConfig.Memory).to.equal(50 * 1024 * 1024);
    expect(info!.State).to.include({ Running: true, OOMKilled: false });
    const id = (await d.docker(["inspect", "-f", "{{.Id}}", "atserver-mem"])).stdout.trim();
    const peak = readPeak(id);
    if (peak !== undefined) {
      expect(peak).to.be.below(50 * 1024 * 1024);
      console.log(`      atserver under 50 MB: peak ${(peak / 1048576).toFixed(1)} MB`);
    }
  });

  it("directory image: uid 1024, read-only root, answers a lookup from its records file and /healthz", async () => {
    const data = ownedDir(dir, "directory");
    writeFileSync(join(data, "records"), `alice ${d.address}:6464\n`);
    await d.docker([
      "run",
      "-d",
      "--name=directory",
      "--read-only",
      "--tmpfs=/tmp:uid=1024,gid=1024",
      "--network=host",
      "-v",
      `${tls.dir}:/certs:ro`,
      "-v",
      `${data}:/data:ro`,
      images.directory,
      "--port=6400",
      "--http-port=8081",
      "--cert=/certs/cert.pem",
      "--key=/certs/key.pem",
      "--records=/data/records",
    ]);
    await withLogs("directory", waitForTls(d.address, 6400, tls.ca));
    expect(await waitForHttp(`http://${d.address}:8081/healthz`)).to.equal("ok\n");
    const found = await lookupAtServer("@alice", { host: d.address, port: 6400, ca: tls.ca });
    expect(found).to.deep.equal({ host: d.address, port: 6464 });
    expect(await lookupAtServer("@nobody", { host: d.address, port: 6400, ca: tls.ca })).to.equal(
      undefined,
    );
    await expectNonRootReadOnly("directory");
  });

  it("registrar image: uid 1024, read-only root, its SQLite store (native addon) answers /healthz", async () => {
    const data = ownedDir(dir, "registrar");
    writeFileSync(join(data, "directory-records"), "");
    chownSync(join(data, "directory-records"), IMAGE_UID, IMAGE_UID);
    // The production setting: atServers as services of this swarm, reached over mutual TLS.
    for (const [f, pem] of Object.entries(d.clientTls))
      writeFileSync(join(data, `engine-${f}.pem`), pem);
    writeFileSync(
      join(data, "swarms.json"),
      JSON.stringify({
        swarms: {
          blue: {
            engine: `${d.address}:2376`,
            caFile: "/data/engine-ca.pem",
            certFile: "/data/engine-cert.pem",
            keyFile: "/data/engine-key.pem",
            publicHost: d.address,
            ports: "30000-30099",
            image: images.atserver,
            storageRoot: join(dir, "atservers"),
          },
        },
        apiVersion: "v1.41",
      }),
    );
    await d.docker([
      "run",
      "-d",
      "--name=registrar",
      "--read-only",
      "--tmpfs=/tmp:uid=1024,gid=1024",
      "--network=host",
      "-v",
      `${data}:/data`,
      "-e",
      "REGISTRAR_API_KEY=registrar-test-api-key-0001",
      "-e",
      "REGISTRAR_ADMIN_KEY=registrar-test-admin-key-0001",
      "-e",
      `REGISTRAR_ROOT=${d.address}:6400`,
      "-e",
      "REGISTRAR_DIRECTORY_FILE=/data/directory-records",
      "-e",
      "REGISTRAR_DATA_DIR=/data",
      "-e",
      "REGISTRAR_BIND=0.0.0.0",
      "-e",
      "REGISTRAR_PORT=8090",
      "-e",
      "REGISTRAR_ORCHESTRATOR=swarm",
      "-e",
      "REGISTRAR_SWARMS_FILE=/data/swarms.json",
      images.registrar,
    ]);
    const health = await withLogs("registrar", waitForHttp(`http://${d.address}:8090/healthz`));
    expect(JSON.parse(health)).to.deep.equal({ status: "ok" });
    await expectNonRootReadOnly("registrar");
  });
});

/** Peak memory of a container from its cgroup (v1 or v2), when this host exposes it. */
function readPeak(id: string): number | undefined {
  for (const f of [
    `/sys/fs/cgroup/memory/docker/${id}/memory.max_usage_in_bytes`,
    `/sys/fs/cgroup/docker/${id}/memory.peak`,
  ]) {
    try {
      return Number(readFileSync(f, "utf8").trim());
    } catch {
      // not this layout
    }
  }
  return undefined;
}
