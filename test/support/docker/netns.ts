// Network namespaces joined by a bridge on the host, one per test Docker node: each node's
// dockerd, its bridges and its iptables rules live in its namespace and go with it. The
// host keeps the bridge's first address, so tests reach the nodes at their own addresses.
import { existsSync, readdirSync } from "node:fs";
import { run } from "./exec";

export interface NetnsNode {
  /** `ip netns` name; its file is /var/run/netns/<name>. */
  name: string;
  /** The node's address on the bridge. */
  address: string;
  hostVeth: string;
}

const PREFIX = "atp-docker-";
let counter = 0;

/** A bridge on the host with `n` namespaces on it (10.213.<x>.0/24, host at .1, nodes .2…). */
export class TestNetwork {
  private constructor(
    readonly bridge: string,
    readonly hostAddress: string,
    readonly nodes: NetnsNode[],
  ) {}

  static async create(n: number): Promise<TestNetwork> {
    await removeOrphans();
    const id = `${process.pid}-${counter++}`;
    const subnet = await freeSubnet();
    const bridge = `atpb${id.replace("-", "x")}`.slice(0, 15);
    const hostAddress = `${subnet}.1`;
    const net = new TestNetwork(bridge, hostAddress, []);
    try {
      await run("ip", ["link", "add", bridge, "type", "bridge"]);
      await run("ip", ["addr", "add", `${hostAddress}/24`, "dev", bridge]);
      await run("ip", ["link", "set", bridge, "up"]);
      for (let i = 0; i < n; i++) {
        const name = `${PREFIX}${id}-${i}`;
        const hostVeth = `atpv${id.replace("-", "x")}n${i}`.slice(0, 15);
        const address = `${subnet}.${i + 2}`;
        await run("ip", ["netns", "add", name]);
        net.nodes.push({ name, address, hostVeth });
        await run("ip", [
          "link",
          "add",
          hostVeth,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          name,
        ]);
        await run("ip", ["link", "set", hostVeth, "master", bridge]);
        await run("ip", ["link", "set", hostVeth, "up"]);
        const inNs = (args: string[]) => run("ip", ["-n", name, ...args]);
        await inNs(["addr", "add", `${address}/24`, "dev", "eth0"]);
        await inNs(["link", "set", "eth0", "up"]);
        await inNs(["link", "set", "lo", "up"]);
        await inNs(["route", "add", "default", "via", hostAddress]);
      }
    } catch (err) {
      await net.remove();
      throw err;
    }
    return net;
  }

  /** Kills whatever still runs in the namespaces, then deletes them and the bridge. */
  async remove(): Promise<void> {
    for (const node of this.nodes) await removeNetns(node.name);
    await run("ip", ["link", "del", this.bridge]).catch(() => undefined);
  }
}

/** Ends every process left in a namespace and deletes it (its veths and iptables go too). */
export async function removeNetns(name: string): Promise<void> {
  if (!existsSync(`/var/run/netns/${name}`)) return;
  const pids = await run("ip", ["netns", "pids", name]).catch(() => ({ stdout: "" }));
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  await run("ip", ["netns", "del", name]).catch(() => undefined);
}

/** Namespaces and bridges of test processes that died without cleaning up. */
async function removeOrphans(): Promise<void> {
  const dir = "/var/run/netns";
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) await removeNetns(name);
  }
  const links = (await run("ip", ["-o", "link", "show"])).stdout;
  for (const m of links.matchAll(/^\d+: (atp[bv](\d+)x[^:@\s]*)/gm)) {
    if (!alive(Number(m[2]))) await run("ip", ["link", "del", m[1]!]).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A 10.213.x.0/24 no interface on the host uses yet. */
async function freeSubnet(): Promise<string> {
  const used = (await run("ip", ["-4", "-o", "addr", "show"])).stdout;
  for (let i = 0; i < 250; i++) {
    const x = (process.pid + counter * 7 + i) % 250;
    const subnet = `10.213.${x}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error("no free 10.213.x.0/24 subnet for the test network");
}
