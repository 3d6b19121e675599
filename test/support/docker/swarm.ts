// Test swarms on our own dockerds: one node (a manager that also runs tasks), or three
// managers and two workers, each in its own network namespace with its own hostname.
import { TestDockerd } from "./dockerd";
import { TestNetwork } from "./netns";

export class TestSwarm {
  private constructor(
    readonly network: TestNetwork,
    readonly managers: TestDockerd[],
    readonly workers: TestDockerd[],
  ) {}

  get leader(): TestDockerd {
    return this.managers[0]!;
  }

  get nodes(): TestDockerd[] {
    return [...this.managers, ...this.workers];
  }

  /**
   * `form: false` starts the dockerds (Engine API on their unix socket only) and leaves
   * forming the swarm to the caller (test/swarm/multi-node.spec.ts runs swarm-node.sh).
   */
  static async start(
    opts: {
      managers?: number;
      workers?: number;
      name?: string;
      form?: boolean;
      hostnames?: (role: "manager" | "worker", i: number) => string;
    } = {},
  ): Promise<TestSwarm> {
    const nManagers = opts.managers ?? 1;
    const nWorkers = opts.workers ?? 0;
    const prefix = opts.name ?? "swarm";
    const form = opts.form ?? true;
    const hostname =
      opts.hostnames ?? ((role: "manager" | "worker", i: number) => `${prefix}-${role}-${i + 1}`);
    const network = await TestNetwork.create(nManagers + nWorkers);
    const swarm = new TestSwarm(network, [], []);
    try {
      const started = await Promise.all(
        network.nodes.map((node, i) =>
          TestDockerd.start(
            node,
            i < nManagers ? hostname("manager", i) : hostname("worker", i - nManagers),
            { engineTls: form },
          ),
        ),
      );
      swarm.managers.push(...started.slice(0, nManagers));
      swarm.workers.push(...started.slice(nManagers));
      if (!form) return swarm;
      await swarm.leader.swarmInit();
      for (const m of swarm.managers.slice(1)) await m.swarmJoin(swarm.leader, "manager");
      for (const w of swarm.workers) await w.swarmJoin(swarm.leader, "worker");
    } catch (err) {
      await swarm.stop();
      throw err;
    }
    return swarm;
  }

  /** Stops every dockerd (workers first) and removes the namespaces and the bridge. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.workers, ...this.managers].map((d) => d.stop()));
    await this.network.remove();
  }
}
