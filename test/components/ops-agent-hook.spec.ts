// The startup script's Ops Agent hook (configure_ops_agent in scripts/swarm-node.sh), run
// for real with stand-ins for the metadata server (curl) and systemd: it writes the
// configuration the instance metadata carries, restarts the agent only on a change, and
// leaves a VM without the agent alone.
import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { opsAgentConfig } from "../../components/ops-agent-config";
import { renderSwarmScript, SWARM_SCRIPT_PATH } from "../../components/swarm-script";
import { sandboxScriptVars, SwarmSandbox } from "./swarm-sandbox";

interface Run {
  code: number;
  stderr: string;
  calls: string[];
}

describe("components: swarm VM Ops Agent hook", () => {
  let dir: string;
  let root: string;
  const conf = opsAgentConfig({ swarm: "swarm1", role: "worker" });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ops-agent-hook-"));
    root = join(dir, "root");
    mkdirSync(join(dir, "bin"), { recursive: true });
    mkdirSync(root);
    writeFileSync(join(dir, "metadata"), conf);
    const stub = (name: string, body: string) => {
      const p = join(dir, "bin", name);
      writeFileSync(
        p,
        `#!/usr/bin/env bash\nprintf '%s %s\\n' "${name}" "$*" >>"${dir}/calls.log"\n${body}\n`,
      );
      chmodSync(p, 0o755);
    };
    // The metadata server answers the one attribute key the hook asks for, 404 otherwise.
    stub(
      "curl",
      `case "$*" in */instance/attributes/atplatform-ops-agent-config) [[ -f "${dir}/metadata" ]] && cat "${dir}/metadata" || exit 22 ;; *) exit 22 ;; esac`,
    );
    stub("systemctl", "exit 0");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function hook(): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        "bash",
        ["-c", `source "${SWARM_SCRIPT_PATH}"; configure_ops_agent`],
        {
          env: {
            PATH: `${join(dir, "bin")}:${process.env.PATH}`,
            ATP_SOURCE_ONLY: "1",
            ATP_ROOT: root,
            ATP_ROLE: "worker",
          },
        },
        (err, _out, stderr) => {
          const log = join(dir, "calls.log");
          resolve({
            code: err ? ((err as { code?: number }).code ?? 1) : 0,
            stderr,
            calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [],
          });
        },
      );
    });
  }

  const agentDir = () => join(root, "etc", "google-cloud-ops-agent");
  const restarts = (r: Run) =>
    r.calls.filter((c) => c === "systemctl restart google-cloud-ops-agent");

  it("15: writes the metadata's configuration and restarts the agent once; an unchanged one is left alone", async () => {
    mkdirSync(agentDir(), { recursive: true });
    const first = await hook();
    expect(first.code, first.stderr).to.equal(0);
    expect(readFileSync(join(agentDir(), "config.yaml"), "utf8")).to.equal(conf);
    expect(restarts(first)).to.have.length(1);
    rmSync(join(dir, "calls.log"));
    const again = await hook();
    expect(again.code).to.equal(0);
    expect(restarts(again)).to.have.length(0);
    writeFileSync(join(dir, "metadata"), opsAgentConfig({ swarm: "swarm2", role: "worker" }));
    const changed = await hook();
    expect(restarts(changed)).to.have.length(1);
    expect(readFileSync(join(agentDir(), "config.yaml"), "utf8")).to.contain('"swarm2"');
  });

  it("15: a VM without the agent, or without the metadata key, boots on without it", async () => {
    const noAgent = await hook();
    expect(noAgent.code).to.equal(0);
    expect(noAgent.stderr).to.contain("no Ops Agent on this image");
    expect(existsSync(agentDir())).to.equal(false);
    mkdirSync(agentDir(), { recursive: true });
    rmSync(join(dir, "metadata"));
    const noKey = await hook();
    expect(noKey.code).to.equal(0);
    expect(noKey.stderr).to.contain("no Ops Agent configuration");
    expect(existsSync(join(agentDir(), "config.yaml"))).to.equal(false);
    expect(restarts(noKey)).to.have.length(0);
  });

  it("15: a worker's boot runs the hook (the VM's metadata becomes the agent's config) and still joins", async () => {
    const b = new SwarmSandbox("swarm1-wkr-x1y2", "10.12.0.77");
    try {
      b.secret("swarm1-worker-token", "SWMTKN-1-workertoken0123456789-abcdef0123");
      b.write("reachable", "10.12.0.10:2377\n");
      mkdirSync(join(b.root, "etc", "google-cloud-ops-agent"), { recursive: true });
      const r = await b.run(renderSwarmScript(sandboxScriptVars("worker")));
      expect(r.code, r.stderr).to.equal(0);
      expect(
        b
          .calls("curl")
          .filter((c) => c.endsWith("/instance/attributes/atplatform-ops-agent-config")),
      ).to.have.length(1);
      // The sandbox's metadata server answers every other path with the VM's address.
      expect(b.file("etc/google-cloud-ops-agent/config.yaml")).to.equal("10.12.0.77\n");
      expect(b.calls("systemctl restart google-cloud-ops-agent")).to.have.length(1);
      expect(b.calls("docker swarm join")).to.have.length(1);
    } finally {
      b.cleanup();
    }
  });
});
