// The multi-node test swarm: three managers and two workers, each a dockerd in its own
// network namespace with its own hostname, joined over the bridge (VXLAN between them), and
// Raft quorum surviving the loss of one manager.
import { expect } from "chai";
import { sleep } from "../support/docker/exec";
import { TestSwarm } from "../support/docker/swarm";

interface NodeRow {
  Hostname: string;
  Status: string;
  ManagerStatus: string;
}

describe("swarm tier on a real Docker Engine: three managers and two workers", function () {
  this.timeout(600_000);
  let swarm: TestSwarm;

  before(async () => {
    swarm = await TestSwarm.start({ managers: 3, workers: 2, name: "multi" });
  });
  after(async () => swarm?.stop());

  async function nodes(): Promise<NodeRow[]> {
    const out = await swarm.leader.docker(["node", "ls", "--format", "{{json .}}"]);
    return out.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as NodeRow)
      .sort((a, b) => a.Hostname.localeCompare(b.Hostname));
  }

  it("one swarm of five nodes, each with its own hostname and address; three managers, one leader", async () => {
    const rows = await nodes();
    expect(rows.map((r) => [r.Hostname, r.Status, r.ManagerStatus])).to.deep.equal([
      ["multi-manager-1", "Ready", "Leader"],
      ["multi-manager-2", "Ready", "Reachable"],
      ["multi-manager-3", "Ready", "Reachable"],
      ["multi-worker-1", "Ready", ""],
      ["multi-worker-2", "Ready", ""],
    ]);
    const addrs = new Set(swarm.nodes.map((d) => d.address));
    expect(addrs.size).to.equal(5);
    for (const d of swarm.nodes) {
      const info = await d.docker(["info", "--format", "{{.Swarm.NodeAddr}} {{.Name}}"]);
      expect(info.stdout.trim()).to.equal(`${d.address} ${d.hostname}`);
    }
  });

  it("quorum holds with one manager killed: the other two still accept writes and see it down", async () => {
    await swarm.managers[2]!.kill();
    // Raft needs 2 of 3: a write through another manager still commits.
    await swarm.managers[1]!.docker(["network", "create", "-d", "overlay", "quorum-check"], {
      timeoutMs: 120_000,
    });
    const listed = await swarm.leader.docker([
      "network",
      "ls",
      "--filter",
      "name=quorum-check",
      "-q",
    ]);
    expect(listed.stdout.trim()).to.not.equal("");
    const deadline = Date.now() + 120_000;
    let row: NodeRow | undefined;
    for (;;) {
      row = (await nodes()).find((r) => r.Hostname === "multi-manager-3");
      if (row?.ManagerStatus === "Unreachable" || Date.now() > deadline) break;
      await sleep(1000);
    }
    expect(row?.ManagerStatus).to.equal("Unreachable");
  });
});
