// Runs the swarm VMs' startup script (components/scripts/swarm-node.sh, rendered as the
// stack renders it) on a test node: inside the node's network and UTS namespaces, against
// its dockerd's socket, with the VM-only calls behind the seam (test/support/gce/vm-seam.sh)
// going to the fake metadata server and the fake Secret Manager.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderSwarmScript, type SwarmScriptVars } from "../../components/swarm-script";
import type { TestDockerd } from "../support/docker/dockerd";
import { unmountBelow } from "../support/docker/dockerd";
import { MissingPrerequisiteError, which, type CommandError } from "../support/docker/exec";
import type { FakeMetadataServer } from "../support/gce/metadata-server";
import type { FakeSecretManager } from "../support/gce/secret-manager";

const SEAM = resolve(__dirname, "../support/gce/vm-seam.sh");

export interface ScriptCloud {
  metadata: FakeMetadataServer;
  secrets: FakeSecretManager;
  /** Host directory standing in for the Filestore share. */
  share: string;
  vars: Omit<SwarmScriptVars, "role">;
}

export class ScriptedNode {
  /** Stands in for the VM's / (ATP_ROOT): what the script writes lands here. */
  readonly root = mkdtempSync(join(tmpdir(), `atp-vm-${process.pid}-`));
  private readonly script: string;

  constructor(
    readonly dockerd: TestDockerd,
    readonly role: "manager" | "worker",
    readonly cloud: ScriptCloud,
  ) {
    const missing = [
      ["stunnel4", "stunnel4"],
      ["curl", "curl"],
      ["base64", "coreutils"],
    ].filter(([cmd]) => !which(cmd!));
    if (missing.length > 0)
      throw new MissingPrerequisiteError(
        `running swarm-node.sh on test nodes needs: ${missing.map(([c, p]) => `${c} (package ${p})`).join(", ")}; .ci/run installs them`,
      );
    this.script = join(this.root, "startup-script.sh");
    writeFileSync(this.script, renderSwarmScript({ ...cloud.vars, role }), { mode: 0o755 });
    mkdirSync(join(this.root, "tmp"));
  }

  /** `bash startup-script.sh <command>` on the node, as GCE (boot), the timer or shutdown. */
  async run(command: "boot" | "maintain" | "leave" | "images"): Promise<string> {
    try {
      const out = await this.dockerd.inNode("bash", [this.script, command], {
        env: {
          PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          DOCKER_HOST: `unix://${this.dockerd.socket}`,
          ATP_ROOT: this.root,
          ATP_DOCKER_SOCKET: this.dockerd.socket,
          ATP_SEAM: SEAM,
          ATP_RETRIES: "120",
          ATP_RETRY_DELAY: "1",
          ATP_TEST_METADATA: this.cloud.metadata.endpoint,
          ATP_TEST_SECRETS: this.cloud.secrets.endpoint,
          ATP_TEST_SHARE: this.cloud.share,
          TMPDIR: join(this.root, "tmp"),
        },
        timeoutMs: 300_000,
      });
      return out.stderr;
    } catch (err) {
      const e = err as CommandError;
      throw new Error(
        `swarm-node.sh ${command} on ${this.dockerd.hostname} failed:\n${e.stderr ?? e.message}`,
        { cause: err },
      );
    }
  }

  /** The pid of the node's Engine API endpoint (stunnel), if the script started it. */
  enginePid(): number | undefined {
    try {
      return Number(readFileSync(join(this.root, "run", "atplatform-engine-tls.pid"), "utf8"));
    } catch {
      return undefined;
    }
  }

  seamLog(): string[] {
    try {
      return readFileSync(join(this.root, "seam.log"), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The VM is gone: its Engine API endpoint with it, and the share's bind mount. */
  async destroy(): Promise<void> {
    const pid = this.enginePid();
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await unmountBelow(this.root);
    // Never remove through a mount that is still there: it is the share.
    if (readFileSync("/proc/self/mounts", "utf8").includes(` ${this.root}/`))
      throw new Error(`${this.root} still has a mount; not removing it`);
    rmSync(this.root, { recursive: true, force: true });
  }
}
