// The swarm VMs' startup script: shellcheck on every rendered variant, and its logic run
// for real (bash) in a sandbox with stand-ins for docker, gcloud, mount and systemd.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { renderSwarmScript, type SwarmScriptVars } from "../../components/swarm-script";
import { publishedPem, wildcardSecretNames } from "../../components/swarm-engine";
import { SANDBOX_REGISTRY_TOKEN, sandboxScriptVars, SwarmSandbox } from "./swarm-sandbox";
import { buildStack } from "./stack";

const MANAGER_IPS = ["10.12.0.10", "10.12.0.11", "10.12.0.12"];
const MGR_TOKEN = "SWMTKN-1-managertoken0123456789-abcdef0123";
const WKR_TOKEN = "SWMTKN-1-workertoken0123456789-abcdef0123";

const ACME: Partial<SwarmScriptVars> = {
  tlsMode: "acme",
  acmeEmail: "ops@example.org",
  acmeServer: "https://acme.example.org/directory",
};

const FSTAB_LINE =
  "10.60.8.2:/atservers /srv/atplatform nfs vers=3,hard,noatime,timeo=600,retrans=3,_netdev,nofail 0 0";

/** Runs shellcheck over `texts` (one process per file list); rejects if it is not installed. */
function shellcheck(texts: string[]): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "atp-sc-"));
  const files = texts.map((t, i) => {
    const f = join(dir, `script-${i}.sh`);
    writeFileSync(f, t);
    return f;
  });
  return new Promise<{ code: number; out: string }>((resolve, reject) => {
    execFile(
      "shellcheck",
      ["--shell=bash", "--severity=style", ...files],
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT")
          return reject(
            new Error(
              "shellcheck is not installed (apt-get install shellcheck); .ci/run installs it",
            ),
          );
        resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr });
      },
    );
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe("components: swarm startup script", () => {
  const boxes: SwarmSandbox[] = [];
  const box = (hostname: string, ip: string) => {
    const b = new SwarmSandbox(hostname, ip);
    boxes.push(b);
    // Docker API TLS material the stack stores for managers.
    for (const [k, v] of Object.entries({ ca: "CA PEM", cert: "CERT PEM", key: "KEY PEM" }))
      b.secret(`swarm1-docker-${k}`, v);
    return b;
  };
  afterEach(() => {
    for (const b of boxes.splice(0)) b.cleanup();
  });

  it("every script the dev and prod stacks render passes shellcheck", async () => {
    const scripts: string[] = [];
    for (const env of ["dev", "prod"]) {
      const { rec } = await buildStack(env);
      for (const t of rec.all("gcp:compute/instanceTemplate:InstanceTemplate"))
        scripts.push(t.inputs.metadata["startup-script"]);
    }
    expect(scripts.length).to.be.at.least(6);
    // Two shellcheck processes (one per core), each over half of the scripts.
    const half = Math.ceil(scripts.length / 2);
    const results = await Promise.all([
      shellcheck(scripts.slice(0, half)),
      shellcheck(scripts.slice(half)),
    ]);
    for (const { code, out } of results) {
      expect(out, "shellcheck findings").to.equal("");
      expect(code).to.equal(0);
    }
  });

  it("shellcheck is really applied (a flawed script is reported)", async () => {
    const { code, out } = await shellcheck(["#!/usr/bin/env bash\nrm -rf $1/*\n"]);
    expect(code).to.not.equal(0);
    expect(out).to.contain("SC2086");
  });

  it("renders values shell-quoted and refuses line breaks", () => {
    const text = renderSwarmScript(
      sandboxScriptVars("manager", { acmeEmail: "o'brien@example.org", tlsMode: "acme" }),
    );
    expect(text).to.contain(`ATP_ACME_EMAIL='o'\\''brien@example.org'`);
    expect(text).to.not.contain("@@ATP_VARS@@");
    expect(() =>
      renderSwarmScript(sandboxScriptVars("manager", { nfsShare: "a\nrm -rf /" })),
    ).to.throw(/line break/);
  });

  it("manager 0 of a new swarm: mounts the share, configures TLS on 2376, initialises, stores both tokens in Secret Manager only", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.file("etc/fstab").trim().split("\n")).to.deep.equal([FSTAB_LINE]);
    expect(b.read("mounted")).to.equal("");
    expect(b.calls("mount ")).to.deep.equal(["mount /srv/atplatform"]);
    expect(b.calls("docker swarm init")).to.deep.equal([
      "docker swarm init --advertise-addr 10.12.0.10 --listen-addr 10.12.0.10:2377 --default-addr-pool 10.97.0.0/16 --default-addr-pool-mask-length 24",
    ]);
    expect(b.secret("swarm1-manager-token")).to.equal(MGR_TOKEN);
    expect(b.secret("swarm1-worker-token")).to.equal(WKR_TOKEN);
    // Tokens went to gcloud through stdin, never argv, output or files.
    expect(
      b.calls("gcloud secrets versions add").every((c) => c.endsWith("--data-file=-")),
    ).to.equal(true);
    for (const t of [MGR_TOKEN, WKR_TOKEN]) {
      expect(r.stdout + r.stderr).to.not.contain(t);
      expect(b.calls("gcloud").join("\n")).to.not.contain(t);
      expect(b.filesContaining(t)).to.deep.equal([]);
    }
    // dockerd on its socket only; the Engine API on 2376 is stunnel's (mutual TLS, reloadable).
    const daemon = JSON.parse(b.file("etc/docker/daemon.json"));
    expect(daemon.hosts).to.deep.equal(["unix:///var/run/docker.sock"]);
    const tunnel = b.file("etc/stunnel/atplatform-engine-tls.conf");
    for (const line of [
      "accept = 2376",
      "connect = /var/run/docker.sock",
      "requireCert = yes",
      "verifyChain = yes",
      `key = ${b.root}/etc/docker/tls/key.pem`,
    ])
      expect(tunnel.split("\n")).to.include(line);
    expect(b.file("etc/systemd/system/atplatform-engine-tls.service")).to.contain(
      "ExecReload=/bin/kill -HUP $MAINPID",
    );
    expect(b.calls("systemctl enable --now atplatform-engine-tls")).to.have.length(1);
    expect(b.file("etc/docker/tls/key.pem")).to.equal("KEY PEM");
    expect(b.mode("etc/docker/tls/key.pem")).to.equal(0o600);
    expect(b.file("etc/systemd/system/docker.service.d/atplatform.conf")).to.contain(
      "ExecStart=\n",
    );
    expect(b.file("etc/systemd/system/atplatform-swarm.timer")).to.contain("OnUnitActiveSec=15min");
    expect(b.file("usr/local/sbin/atplatform-swarm")).to.contain("ATP_ROLE='manager'");
  });

  it("a reboot is idempotent: no second init, one fstab line, Docker not restarted", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    const script = renderSwarmScript(sandboxScriptVars("manager"));
    expect((await b.run(script)).code).to.equal(0);
    const before = b.calls().length;
    const r = await b.run(script);
    expect(r.code, r.stderr).to.equal(0);
    const again = b.calls().slice(before);
    expect(again.filter((c) => c.startsWith("docker swarm init"))).to.deep.equal([]);
    expect(again).to.not.include("systemctl restart docker");
    expect(again.filter((c) => c.startsWith("mount "))).to.deep.equal([]);
    expect(b.file("etc/fstab").trim().split("\n")).to.deep.equal([FSTAB_LINE]);
  });

  it("a stale fstab entry for the mount point is replaced and other entries are kept", async () => {
    const b = box("swarm1-wkr-abcd", "10.12.0.50");
    b.secret("swarm1-worker-token", WKR_TOKEN);
    b.write("reachable", "10.12.0.10:2377\n");
    const fstab =
      "UUID=1234 / ext4 defaults 0 1\n10.60.9.9:/old /srv/atplatform nfs defaults 0 0\n";
    mkdirSync(`${b.root}/etc`, { recursive: true });
    writeFileSync(`${b.root}/etc/fstab`, fstab);
    b.write("mounted", "");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.file("etc/fstab").trim().split("\n")).to.deep.equal([
      "UUID=1234 / ext4 defaults 0 1",
      FSTAB_LINE,
    ]);
    expect(b.calls("umount")).to.deep.equal(["umount /srv/atplatform"]);
    expect(b.calls("mount ")).to.deep.equal(["mount /srv/atplatform"]);
  });

  it("another manager waits for the tokens and joins through a manager other than itself", async () => {
    const b = box("swarm1-mgr-1", MANAGER_IPS[1]!);
    b.secret("swarm1-manager-token", MGR_TOKEN);
    b.write("reachable", "10.12.0.10:2377\n10.12.0.11:2377\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker swarm")).to.deep.equal([
      `docker swarm join --token ${MGR_TOKEN} --advertise-addr 10.12.0.11 10.12.0.10:2377`,
    ]);
    expect(r.stderr).to.not.contain(MGR_TOKEN);
  });

  it("a recreated manager 0 rejoins instead of initialising and removes its stale entry", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.secret("swarm1-manager-token", MGR_TOKEN);
    b.secret("swarm1-worker-token", WKR_TOKEN);
    b.write("reachable", "10.12.0.12:2377\n");
    b.write("nodes", "oldid0 Down false\nnewid0 Ready true\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker swarm init")).to.deep.equal([]);
    expect(b.calls("docker swarm join")).to.have.length(2); // 10.12.0.11 unreachable, then .12
    expect(b.calls("docker swarm join").pop()).to.match(/ 10\.12\.0\.12:2377$/);
    expect(b.calls("docker node")).to.deep.equal([
      "docker node ls --filter name=swarm1-mgr-0 --format {{.ID}} {{.Status}} {{.Self}}",
      "docker node demote oldid0",
      "docker node rm --force oldid0",
    ]);
  });

  it("manager 0 that initialised but stopped before storing the tokens stores them on the next boot", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("swarm_state", "active\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker swarm init")).to.deep.equal([]);
    expect(b.secret("swarm1-manager-token")).to.equal(MGR_TOKEN);
  });

  it("a worker joins with the worker token, never reads the manager token, and gets no TLS API", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    b.secret("swarm1-manager-token", MGR_TOKEN);
    b.secret("swarm1-worker-token", WKR_TOKEN);
    b.write("reachable", "10.12.0.10:2377\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker swarm join")).to.deep.equal([
      `docker swarm join --token ${WKR_TOKEN} --advertise-addr 10.12.0.77 10.12.0.10:2377`,
    ]);
    const secretsRead = b
      .calls("gcloud secrets versions access")
      .map((c) => /--secret=(\S+)/.exec(c)![1]);
    expect(secretsRead).to.deep.equal(["swarm1-images", "swarm1-worker-token"]);
    expect(JSON.parse(b.file("etc/docker/daemon.json")).hosts).to.deep.equal([
      "unix:///var/run/docker.sock",
    ]);
  });

  it("a worker gives up (non-zero) when no token appears", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain("could not join swarm swarm1");
    expect(
      b.calls("gcloud secrets versions access latest --secret=swarm1-worker-token"),
    ).to.have.length(
      3, // ATP_RETRIES
    );
    expect(b.calls("docker swarm")).to.deep.equal([]);
  });

  it("a malformed token is refused, not used", async () => {
    const b = box("swarm1-mgr-2", MANAGER_IPS[2]!);
    b.secret("swarm1-manager-token", "not-a-token; rm -rf /");
    b.write("reachable", "10.12.0.10:2377\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain("malformed");
    expect(b.calls("docker swarm")).to.deep.equal([]);
  });

  it("12.6: maintain on every manager reloads the Engine API endpoint once Secret Manager holds a re-issued certificate, and only then", async () => {
    const b = box("swarm1-mgr-2", MANAGER_IPS[2]!);
    b.write("swarm_state", "active\n");
    b.write("reachable", `${MANAGER_IPS[0]}\n`);
    b.secret("swarm1-manager-token", MGR_TOKEN);
    const script = renderSwarmScript(sandboxScriptVars("manager"));
    expect((await b.run(script)).code).to.equal(0);
    let mark = b.calls().length;
    expect((await b.run(script, "maintain")).code).to.equal(0);
    expect(
      b
        .calls()
        .slice(mark)
        .filter((c) => c.startsWith("systemctl reload")),
    ).to.deep.equal([]);
    b.secret("swarm1-docker-cert", "CERT PEM v2");
    b.secret("swarm1-docker-key", "KEY PEM v2");
    mark = b.calls().length;
    const r = await b.run(script, "maintain");
    expect(r.code, r.stderr).to.equal(0);
    expect(b.file("etc/docker/tls/cert.pem")).to.equal("CERT PEM v2");
    expect(b.file("etc/docker/tls/key.pem")).to.equal("KEY PEM v2");
    expect(b.mode("etc/docker/tls/key.pem")).to.equal(0o600);
    const after = b.calls().slice(mark);
    expect(after.filter((c) => c.startsWith("systemctl"))).to.deep.equal([
      "systemctl reload atplatform-engine-tls",
    ]);
    // Neither dockerd nor the swarm is touched (no restart, no leave, no manager-0 work).
    expect(after.filter((c) => c.startsWith("docker"))).to.deep.equal([]);
    expect(b.filesContaining("KEY PEM v2")).to.deep.equal([`${b.root}/etc/docker/tls/key.pem`]);
  });

  it("ACME: maintain on manager 0 publishes the wildcard certificate as Docker secrets and moves services onto it", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("swarm_state", "active\n");
    b.secret("swarm1-tls-cert", "WILDCARD CERT v2");
    b.secret("swarm1-tls-key", "WILDCARD KEY v2");
    b.write("dsecrets/atserver-tls-crt-000000000001", "old");
    b.write("dsecrets/atserver-tls-key-000000000001", "old");
    b.write("services", "atserver-alice\n");
    b.write(
      "svc/atserver-alice",
      "cram-alice atserver-tls-crt-000000000001 atserver-tls-key-000000000001 \n",
    );
    const script = renderSwarmScript(sandboxScriptVars("manager", ACME));
    const r = await b.run(script, "maintain");
    expect(r.code, r.stderr).to.equal(0);
    // The new pair exists; the old pair, no longer referenced, was removed.
    const created = b.list("dsecrets");
    expect(created).to.have.length(2);
    expect(b.calls("docker secret rm")).to.deep.equal([
      "docker secret rm atserver-tls-crt-000000000001",
      "docker secret rm atserver-tls-key-000000000001",
    ]);
    const crt = created.find((n) => n.startsWith("atserver-tls-crt-"))!;
    expect(b.read(`dsecrets/${crt}`)).to.equal("WILDCARD CERT v2\n");
    const hash = crt.slice("atserver-tls-crt-".length);
    expect(b.calls("docker service update")).to.deep.equal([
      "docker service update --detach --quiet " +
        `--secret-rm atserver-tls-crt-000000000001 --secret-add source=atserver-tls-crt-${hash},target=atserver-tls.crt,uid=1024,mode=0444 ` +
        `--secret-rm atserver-tls-key-000000000001 --secret-add source=atserver-tls-key-${hash},target=atserver-tls.key,uid=1024,mode=0400 ` +
        "atserver-alice",
    ]);
    expect(r.stderr).to.not.contain("WILDCARD KEY");
    // Not a manager 0: does nothing.
    const other = box("swarm1-mgr-1", MANAGER_IPS[1]!);
    other.write("swarm_state", "active\n");
    expect((await other.run(script, "maintain")).code).to.equal(0);
    expect(other.calls("docker secret")).to.deep.equal([]);
  });

  it("private CA: maintain publishes no pair itself; once the stack's pair exists it moves services onto it", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("swarm_state", "active\n");
    const chain = "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n";
    b.secret("swarm1-tls-cert", chain);
    b.secret("swarm1-tls-key", "WILDCARD KEY");
    b.write("dsecrets/atserver-tls-crt-000000000001", "old");
    b.write("dsecrets/atserver-tls-key-000000000001", "old");
    b.write("services", "atserver-alice\n");
    b.write(
      "svc/atserver-alice",
      "cram-alice atserver-tls-crt-000000000001 atserver-tls-key-000000000001 \n",
    );
    const script = renderSwarmScript(sandboxScriptVars("manager"));
    let r = await b.run(script, "maintain");
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker secret create")).to.deep.equal([]);
    expect(b.calls("docker service update")).to.deep.equal([]);
    expect(r.stderr).to.contain("not yet published by the stack");
    // The second step of `up` declares the pair under the names this job derives.
    const names = wildcardSecretNames(chain);
    b.write(`dsecrets/${names.crt}`, publishedPem(chain));
    b.write(`dsecrets/${names.key}`, "WILDCARD KEY\n");
    r = await b.run(script, "maintain");
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker secret create")).to.deep.equal([]);
    expect(b.calls("docker service update")).to.have.length(1);
    expect(b.calls("docker service update")[0]).to.contain(`source=${names.crt},`);
  });

  it("maintain takes today's Filestore backup once and expires backups past the retention", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("swarm_state", "active\n");
    const day = (ago: number) =>
      new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10).replace(/-/g, "");
    for (const ago of [3, 10]) b.write(`backups/atservers-${day(ago)}`, "");
    b.write("backups/manual-keep", "");
    const script = renderSwarmScript(
      sandboxScriptVars("manager", {
        backup: { instance: "atservers", location: "europe-west2-a", keepDays: 7 },
      }),
    );
    expect((await b.run(script, "maintain")).code).to.equal(0);
    expect(b.list("backups")).to.deep.equal(
      [`atservers-${day(0)}`, `atservers-${day(3)}`, "manual-keep"].sort(),
    );
    const creates = b.calls("gcloud filestore backups create");
    expect(creates).to.have.length(1);
    expect(creates[0]).to.contain(
      "--instance=atservers --instance-location=europe-west2-a --file-share=atservers",
    );
    expect((await b.run(script, "maintain")).code).to.equal(0);
    expect(b.calls("gcloud filestore backups create")).to.have.length(1);
  });

  const IMAGE = `europe-west2-docker.pkg.dev/test-proj/atplatform/atserver@sha256:${"ab".repeat(32)}`;

  it("B4: manager 0 of a new swarm replaces the /24 ingress with the large subnet (MTU 1410) before any node can join", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.read("ingress").trim()).to.equal("10.96.0.0/16");
    const calls = b.calls();
    const create = calls.findIndex((c) => c.startsWith("docker network create"));
    expect(calls[create]).to.equal(
      "docker network create --driver overlay --ingress --subnet 10.96.0.0/16 --opt com.docker.network.driver.mtu=1410 ingress",
    );
    expect(calls.findIndex((c) => c.startsWith("docker network rm ingress"))).to.be.below(create);
    // Tokens (the only way in) are published after the ingress is right.
    expect(calls.findIndex((c) => c.startsWith("gcloud secrets versions add"))).to.be.above(create);
  });

  it("B4: a manager 0 that stopped before fixing the ingress fixes it at its next boot; one with services is left alone", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("swarm_state", "active\n");
    b.write("ingress", "10.0.0.0/24\n");
    expect((await b.run(renderSwarmScript(sandboxScriptVars("manager")))).code).to.equal(0);
    expect(b.read("ingress").trim()).to.equal("10.96.0.0/16");
    const busy = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    busy.write("swarm_state", "active\n");
    busy.write("ingress", "10.0.0.0/24\n");
    busy.write("services", "atserver-alice\n");
    const r = await busy.run(renderSwarmScript(sandboxScriptVars("manager")), "maintain");
    expect(r.code, r.stderr).to.equal(0);
    expect(busy.calls("docker network rm")).to.deep.equal([]);
    expect(r.stderr).to.contain("services exist");
  });

  it("B2: a new worker pre-pulls the pinned atServer image with its own short-lived token before it joins, and keeps no credential", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    b.secret("swarm1-worker-token", WKR_TOKEN);
    b.secret("swarm1-images", IMAGE);
    b.write("registry", `${IMAGE}\n`);
    b.write("reachable", "10.12.0.10:2377\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.read("images").trim()).to.equal(IMAGE);
    const calls = b.calls();
    const pull = calls.indexOf(`docker pull -q ${IMAGE}`);
    expect(pull).to.be.above(-1);
    expect(pull).to.be.below(calls.findIndex((c) => c.startsWith("docker swarm join")));
    expect(calls).to.include(
      "docker login -u oauth2accesstoken --password-stdin https://europe-west2-docker.pkg.dev",
    );
    // The token went through stdin only, and the login config was thrown away.
    expect(calls.join("\n")).to.not.contain(SANDBOX_REGISTRY_TOKEN);
    expect(r.stdout + r.stderr).to.not.contain(SANDBOX_REGISTRY_TOKEN);
    expect(b.filesContaining(SANDBOX_REGISTRY_TOKEN)).to.deep.equal([]);
    expect(b.tmpFilesContaining(SANDBOX_REGISTRY_TOKEN)).to.deep.equal([]);
    // Every node re-runs the pre-pull every 2 minutes (a new digest arrives without a human).
    expect(b.file("etc/systemd/system/atplatform-images.timer")).to.contain("OnUnitActiveSec=2min");
    expect(b.calls("systemctl enable --now atplatform-images.timer")).to.have.length(1);
  });

  it("B2: a node pulls a newly listed digest on its next timer run, and skips what it has", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    const next = IMAGE.slice(0, -64) + "cd".repeat(32);
    b.write("images", `${IMAGE}\n`);
    b.write("registry", `${IMAGE}\n${next}\n`);
    b.secret("swarm1-images", `${IMAGE}\n${next}`);
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")), "images");
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker pull")).to.deep.equal([`docker pull -q ${next}`]);
  });

  it("B2: a worker that cannot pull its images does not join (no task it cannot start)", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    b.secret("swarm1-worker-token", WKR_TOKEN);
    b.secret("swarm1-images", IMAGE);
    b.write("reachable", "10.12.0.10:2377\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain("could not pre-pull");
    expect(b.calls("docker swarm join")).to.deep.equal([]);
  });

  it("B2: images from a public registry or by tag are refused, never pulled", async () => {
    const b = box("swarm1-wkr-x1y2", "10.12.0.77");
    const bad = ["docker.io/library/busybox:1.36", "europe-west2-docker.pkg.dev/p/r/atserver:1.0"];
    b.secret("swarm1-images", bad.join("\n"));
    b.write("registry", bad.join("\n"));
    const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")), "images");
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain("refusing image docker.io/library/busybox:1.36");
    expect(b.calls("docker pull")).to.deep.equal([]);
    expect(b.calls("docker login")).to.deep.equal([]);
  });

  it("15: manager 0 retries a transient PERMISSION_DENIED (IAM not yet propagated) instead of dying", async () => {
    const b = box("swarm1-mgr-0", MANAGER_IPS[0]!);
    b.write("denied-swarm1-manager-token", "2\n");
    const r = await b.run(renderSwarmScript(sandboxScriptVars("manager")));
    expect(r.code, r.stderr).to.equal(0);
    expect(b.calls("docker swarm init")).to.have.length(1);
    expect(b.secret("swarm1-manager-token")).to.equal(MGR_TOKEN);
  });

  it("a worker going away (scale-in, roll-out) leaves the swarm so its atServers move at once; a manager never leaves", async () => {
    const w = box("swarm1-wkr-x1y2", "10.12.0.77");
    w.write("swarm_state", "active\n");
    const r = await w.run(renderSwarmScript(sandboxScriptVars("worker")), "leave");
    expect(r.code, r.stderr).to.equal(0);
    expect(w.calls("docker swarm leave")).to.deep.equal(["docker swarm leave"]);
    const m = box("swarm1-mgr-1", MANAGER_IPS[1]!);
    m.write("swarm_state", "active\n");
    expect((await m.run(renderSwarmScript(sandboxScriptVars("manager")), "leave")).code).to.equal(
      0,
    );
    expect(m.calls("docker swarm leave")).to.deep.equal([]);
  });
});
