// The stack's network, as the VPC would enforce it (flow-model.ts): every flow the platform
// needs is allowed and nothing else is. The table of needed flows is docs/architecture.md
// "Who talks to whom".
import { expect } from "chai";
import type { PlatformConfig } from "../../components/config";
import { ADDRESS_PLAN, IAP_RANGE, NODE_TAGS, SWARM_OVERLAY } from "../../components/network";
import {
  cidrsOverlap,
  egressAllowed,
  type Endpoint,
  ingressAllowed,
  natCovers,
  type Peer,
  podAllowed,
  type Proto,
} from "./flow-model";
import type { Recorded } from "./mocks";
import { buildStack } from "./stack";

const host = (cidr: string, n: number) => {
  const [a, b, c] = cidr.split(/[./]/).map(Number);
  return `${a}.${b}.${c}.${n}`;
};

interface World {
  external: Endpoint[];
  vms: Endpoint[];
  pods: Endpoint[];
  needed: Set<string>;
  /** World-open TCP ranges: any source may reach these endpoints on these ports. */
  open: { dsts: Endpoint[]; lo: number; hi: number }[];
  probes: [Proto, number][];
}

function isNeeded(w: World, src: Endpoint, dst: Endpoint, proto: Proto, port: number): boolean {
  if (w.needed.has(key(src.name, dst.name, proto, port))) return true;
  return (
    proto === "tcp" && w.open.some((o) => o.dsts.includes(dst) && port >= o.lo && port <= o.hi)
  );
}

const key = (src: string, dst: string, proto: Proto, port: number) =>
  `${src} -> ${dst} ${proto}/${port}`;

/** The endpoints of the platform and the flows it needs between them. */
export function world(cfg: PlatformConfig): World {
  const ext = (name: string, ip: string): Endpoint => ({ name, ip, tags: [], internal: false });
  const internet = ext("internet", "198.51.100.7");
  const hc35 = ext("health-35.191", "35.191.8.1");
  const hc130 = ext("health-130.211", "130.211.0.9");
  const nlb152 = ext("nlb-health-209.85.152", "209.85.152.9");
  const nlb204 = ext("nlb-health-209.85.204", "209.85.204.9");
  const iap = ext("iap", host(IAP_RANGE, 9));
  const external = [internet, hc35, hc130, nlb152, nlb204, iap];
  const vm = (name: string, ip: string, tags: string[]): Endpoint => ({
    name,
    ip,
    tags,
    internal: true,
  });
  const dirNode = vm("directory-node", host(ADDRESS_PLAN.directory.nodes, 9), [
    NODE_TAGS.directory,
  ]);
  const regNode = vm("registrar-node", host(ADDRESS_PLAN.registrar.nodes, 9), [
    NODE_TAGS.registrar,
  ]);
  const pods = [
    vm("directory-pod", host(ADDRESS_PLAN.directory.pods, 9), [NODE_TAGS.directory]),
    vm("registrar-pod", host(ADDRESS_PLAN.registrar.pods, 9), [NODE_TAGS.registrar]),
  ];
  const vms = [dirNode, regNode];
  const needed = new Set<string>();
  const need = (srcs: Endpoint[], dsts: Endpoint[], proto: Proto, ports: number[]) => {
    for (const s of srcs)
      for (const d of dsts)
        if (s !== d) for (const p of ports) needed.add(key(s.name, d.name, proto, p));
  };
  const probes: [Proto, number][] = [
    ...[
      22, 53, 64, 80, 443, 2049, 2375, 2376, 2377, 6378, 7946, 8080, 9100, 9464, 10250, 10256,
      31000,
    ].map((p) => ["tcp", p] as [Proto, number]),
    ...[53, 4789, 7946].map((p) => ["udp", p] as [Proto, number]),
  ];
  // Clients (and anything on the internet) → root :64 through the passthrough NLB. The
  // rule is world-open (client IPs are preserved), so every source reaches it.
  const open: World["open"] = [{ dsts: [dirNode, pods[0]!], lo: 64, hi: 64 }];
  // The directory's external passthrough NLB health checks (data port, kube-proxy, node ports).
  need([hc35, nlb152, nlb204], [dirNode], "tcp", [10256, 31000]);
  for (const sw of cfg.swarms) {
    const mgrs = [0, 1].map((i) =>
      vm(`${sw.name}-manager-${i}`, `10.12.0.${10 + i}`, [`atp-swarm-${sw.name}-manager`]),
    );
    const wkrs = [0, 1].map((i) =>
      vm(`${sw.name}-worker-${i}`, `10.12.${1 + cfg.swarms.indexOf(sw)}.${50 + i}`, [
        `atp-swarm-${sw.name}-worker`,
      ]),
    );
    vms.push(...mgrs, ...wkrs);
    const range = [sw.firstPort, Math.floor((sw.firstPort + sw.lastPort) / 2), sw.lastPort];
    for (const p of range) if (!probes.some(([, q]) => q === p)) probes.push(["tcp", p]);
    // atServer clients → the swarm's port range on the workers (routing mesh), world-open.
    open.push({ dsts: wkrs, lo: sw.firstPort, hi: sw.lastPort });
    // Worker health: the atServer NLB's checkers and MIG auto-healing, on the gossip port.
    need([hc35, hc130, nlb152, nlb204], wkrs, "tcp", [7946]);
    // Manager health: the Docker API's internal LB and MIG auto-healing, on 2377.
    need([hc35, hc130], mgrs, "tcp", [2377]);
    // The swarm itself: management to managers, gossip and VXLAN between all its nodes.
    need([...mgrs, ...wkrs], mgrs, "tcp", [2377]);
    need([...mgrs, ...wkrs], [...mgrs, ...wkrs], "tcp", [7946]);
    need([...mgrs, ...wkrs], [...mgrs, ...wkrs], "udp", [7946, 4789]);
    // The registrar drives the swarm through the Docker Engine API (mTLS), and so does
    // `pulumi up`'s second step through an IAP tunnel.
    need([regNode, pods[1]!, iap], mgrs, "tcp", [2376]);
  }
  // Operators: SSH to any VM through IAP.
  need([iap], vms, "tcp", [22]);
  return { external, vms, pods, needed, open, probes };
}

/** Flows the firewall decides differently from the table: [allowed extra, needed blocked]. */
export function mismatches(
  resources: Recorded[],
  w: World,
): { extra: string[]; blocked: string[] } {
  const extra: string[] = [];
  const blocked: string[] = [];
  const internal = [...w.vms, ...w.pods];
  for (const src of [...w.external, ...internal])
    // The internet reaches VMs (through LBs or IAP), never pod addresses.
    for (const dst of src.internal ? internal : w.vms) {
      if (src === dst) continue;
      for (const [proto, port] of w.probes) {
        const k = key(src.name, dst.name, proto, port);
        const allowed = ingressAllowed(resources, src, dst, proto, port);
        const needed = isNeeded(w, src, dst, proto, port);
        if (allowed && !needed) extra.push(k);
        if (!allowed && needed) blocked.push(k);
      }
    }
  return { extra, blocked };
}

const FIREWALL = "gcp:compute/firewall:Firewall";

for (const env of ["dev", "prod"]) {
  describe(`components: network flows (${env})`, () => {
    it("every flow the platform needs is allowed, and nothing else is", async () => {
      const { rec, cfg } = await buildStack(env);
      expect(mismatches(rec.resources, world(cfg))).to.deep.equal({ extra: [], blocked: [] });
    });

    it("each load balancer's backends admit its clients and its health checkers", async () => {
      // The table above names the health checkers; here: the LBs point at the tags it opens.
      const { rec, cfg } = await buildStack(env);
      for (const sw of cfg.swarms) {
        const be = rec.one(
          "gcp:compute/regionBackendService:RegionBackendService",
          `${sw.name}-atservers`,
        );
        const hc = rec.one(
          "gcp:compute/regionHealthCheck:RegionHealthCheck",
          `${sw.name}-atservers-hc`,
        );
        expect(be.inputs.healthChecks).to.equal(`${sw.name}-atservers-hc_id`);
        expect(hc.inputs.tcpHealthCheck.port).to.equal(7946);
        const docker = rec.one(
          "gcp:compute/regionHealthCheck:RegionHealthCheck",
          `${sw.name}-docker-hc`,
        );
        expect(docker.inputs.tcpHealthCheck.port).to.equal(2377);
      }
    });

    it("private VMs reach the internet only through Cloud NAT, which covers every subnet", async () => {
      const { rec } = await buildStack(env);
      for (const cidr of [
        ADDRESS_PLAN.directory.nodes,
        ADDRESS_PLAN.registrar.nodes,
        ADDRESS_PLAN.swarm.nodes,
      ])
        expect(natCovers(rec.resources, cidr), cidr).to.equal(true);
    });

    it("directory nodes and pods reach the Redis read endpoint and never the primary", async () => {
      const { rec } = await buildStack(env);
      const dir: Endpoint = {
        name: "directory-pod",
        ip: host(ADDRESS_PLAN.directory.pods, 9),
        tags: [NODE_TAGS.directory],
        internal: true,
      };
      expect(egressAllowed(rec.resources, dir, "10.60.0.4", "tcp", 6378)).to.equal(true);
      expect(egressAllowed(rec.resources, dir, "10.60.0.3", "tcp", 6378)).to.equal(false);
    });
  });
}

describe("components: network flows (the model sees what breaks the platform)", () => {
  const without = (rs: Recorded[], drop: (r: Recorded) => boolean) => rs.filter((r) => !drop(r));
  const stripPort = (rs: Recorded[], name: string, proto: string, port: string) =>
    rs.map((r) =>
      r.name !== name
        ? r
        : {
            ...r,
            inputs: {
              ...r.inputs,
              allows: r.inputs.allows
                .map((a: any) =>
                  a.protocol === proto
                    ? { ...a, ports: (a.ports ?? []).filter((p: string) => p !== port) }
                    : a,
                )
                .filter((a: any) => !a.ports || a.ports.length > 0),
            },
          },
    );

  it("deleting Cloud NAT, a health-check rule, the VXLAN port or the management port is seen", async () => {
    const { rec, cfg } = await buildStack("dev");
    const w = world(cfg);
    const noNat = without(rec.resources, (r) => r.type === "gcp:compute/routerNat:RouterNat");
    expect(natCovers(noNat, ADDRESS_PLAN.swarm.nodes)).to.equal(false);
    const firewallNames = rec.all(FIREWALL).map((r) => r.name);
    const healthRules = firewallNames.filter((n) => /health/.test(n));
    expect(healthRules).to.not.be.empty;
    for (const n of healthRules)
      expect(
        mismatches(
          without(rec.resources, (r) => r.name === n),
          w,
        ).blocked,
        n,
      ).to.not.be.empty;
    const swarmRules = firewallNames.filter((n) => /^swarm1-swarm/.test(n));
    const vxlan = swarmRules.reduce(
      (rs, n) => stripPort(rs, n, "udp", "4789"),
      rec.resources as Recorded[],
    );
    expect(mismatches(vxlan, w).blocked.some((k) => k.endsWith("udp/4789"))).to.equal(true);
    const mgmt = swarmRules.reduce(
      (rs, n) => stripPort(rs, n, "tcp", "2377"),
      rec.resources as Recorded[],
    );
    expect(mismatches(mgmt, w).blocked.some((k) => k.endsWith("tcp/2377"))).to.equal(true);
  });
});

describe("components: address plan", () => {
  it("no two ranges of the plan overlap, the swarms' overlay ranges included", () => {
    const ranges: [string, string][] = [
      ...Object.entries(ADDRESS_PLAN).flatMap(([k, v]) =>
        "address" in v
          ? [[`${k}`, `${v.address}/${v.prefix}`] as [string, string]]
          : Object.entries(v).map(([kk, c]) => [`${k}.${kk}`, c] as [string, string]),
      ),
      ["swarm overlay ingress", SWARM_OVERLAY.ingress],
      ["swarm overlay pool", SWARM_OVERLAY.pool],
    ];
    for (let i = 0; i < ranges.length; i++)
      for (let j = i + 1; j < ranges.length; j++)
        expect(
          cidrsOverlap(ranges[i]![1], ranges[j]![1]),
          `${ranges[i]![0]} / ${ranges[j]![0]}`,
        ).to.equal(false);
  });
});

for (const env of ["dev", "prod"]) {
  describe(`components: Kubernetes NetworkPolicies (${env})`, () => {
    const DNS: Peer = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };

    it("14: each platform namespace denies everything by default, and admits only restricted pods", async () => {
      const { rec } = await buildStack(env);
      const namespaces = rec
        .all("kubernetes:core/v1:Namespace")
        .map((n) => n.inputs.metadata.name as string);
      expect(namespaces.sort()).to.deep.equal(["atdirectory", "registrar"]);
      for (const ns of namespaces) {
        const stray = { namespace: ns, labels: { "app.kubernetes.io/name": "something-else" } };
        expect(
          podAllowed(rec.resources, stray, "Ingress", { ip: "10.20.0.9" }, "tcp", 8080),
        ).to.equal(false);
        expect(podAllowed(rec.resources, stray, "Egress", { ip: "8.8.8.8" }, "tcp", 443)).to.equal(
          false,
        );
        const n = rec
          .all("kubernetes:core/v1:Namespace")
          .find((x) => x.inputs.metadata.name === ns)!;
        expect(n.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], ns).to.equal(
          "restricted",
        );
      }
    });

    it("14: directory pods take root connections from anywhere and talk only to the Redis read endpoint and DNS", async () => {
      const { rec } = await buildStack(env);
      const pod = { namespace: "atdirectory", labels: { "app.kubernetes.io/name": "atdirectory" } };
      const redis = rec.one("gcp:redis/instance:Instance");
      expect(redis).to.exist;
      const read = "10.60.0.4"; // the mock's read endpoint
      const primary = "10.60.0.3";
      expect(
        podAllowed(rec.resources, pod, "Ingress", { ip: "198.51.100.7" }, "tcp", 6464),
      ).to.equal(true);
      expect(
        podAllowed(rec.resources, pod, "Ingress", { ip: "198.51.100.7" }, "tcp", 8080),
      ).to.equal(false);
      expect(podAllowed(rec.resources, pod, "Egress", { ip: read }, "tcp", 6378)).to.equal(true);
      expect(podAllowed(rec.resources, pod, "Egress", DNS, "udp", 53)).to.equal(true);
      for (const [ip, port] of [
        [primary, 6378],
        ["10.12.0.20", 2376],
        [host(ADDRESS_PLAN.registrar.pods, 9), 8080],
        ["8.8.8.8", 443],
        ["169.254.169.254", 80],
      ] as [string, number][])
        expect(
          podAllowed(rec.resources, pod, "Egress", { ip }, "tcp", port),
          `${ip}:${port}`,
        ).to.equal(false);
    });

    it("14: a directory pod cannot reach the registrar's plain-HTTP port; only Google's front ends can", async () => {
      const { rec } = await buildStack(env);
      const reg = { namespace: "registrar", labels: { "app.kubernetes.io/name": "registrar" } };
      const dirPod = { ip: host(ADDRESS_PLAN.directory.pods, 9) };
      expect(podAllowed(rec.resources, reg, "Ingress", dirPod, "tcp", 8080)).to.equal(false);
      expect(podAllowed(rec.resources, reg, "Ingress", { ip: "35.191.1.1" }, "tcp", 8080)).to.equal(
        true,
      );
      expect(
        podAllowed(rec.resources, reg, "Ingress", { ip: "130.211.0.1" }, "tcp", 8080),
      ).to.equal(true);
      // And the VPC firewall gives the directory cluster no path to the registrar's at all.
      const src: Endpoint = {
        name: "d",
        ip: dirPod.ip,
        tags: [NODE_TAGS.directory],
        internal: true,
      };
      const dst: Endpoint = {
        name: "r",
        ip: host(ADDRESS_PLAN.registrar.pods, 9),
        tags: [NODE_TAGS.registrar],
        internal: true,
      };
      expect(ingressAllowed(rec.resources, src, dst, "tcp", 8080)).to.equal(false);
    });

    it("15: only Managed Prometheus's collectors reach the metrics ports, and only those", async () => {
      const { rec } = await buildStack(env);
      const collector: Peer = {
        namespace: "gke-gmp-system",
        labels: { "app.kubernetes.io/name": "collector" },
      };
      const targets: [{ namespace: string; labels: Record<string, string> }, number, number][] = [
        [
          { namespace: "atdirectory", labels: { "app.kubernetes.io/name": "atdirectory" } },
          8080,
          6378,
        ],
        [{ namespace: "registrar", labels: { "app.kubernetes.io/name": "registrar" } }, 9464, 8080],
      ];
      const impostors: Peer[] = [
        { namespace: "gke-gmp-system", labels: { "app.kubernetes.io/name": "rule-evaluator" } },
        { namespace: "default", labels: { "app.kubernetes.io/name": "collector" } },
        { ip: "198.51.100.7" },
        { ip: host(ADDRESS_PLAN.directory.pods, 9) },
      ];
      for (const [pod, metrics, other] of targets) {
        expect(
          podAllowed(rec.resources, pod, "Ingress", collector, "tcp", metrics),
          pod.namespace,
        ).to.equal(true);
        expect(
          podAllowed(rec.resources, pod, "Ingress", collector, "tcp", other),
          pod.namespace,
        ).to.equal(false);
        for (const who of impostors)
          expect(
            podAllowed(rec.resources, pod, "Ingress", who, "tcp", metrics),
            `${JSON.stringify(who)} -> ${pod.namespace}:${metrics}`,
          ).to.equal(false);
        // The scrape answer needs no egress rule (replies of an admitted connection).
        expect(podAllowed(rec.resources, pod, "Egress", collector, "tcp", 443)).to.equal(false);
      }
    });

    it("14: registrar pods reach the Redis primary, each swarm's Docker API, the root and (prod) SMTP; nothing else", async () => {
      const { rec, cfg } = await buildStack(env);
      const reg = { namespace: "registrar", labels: { "app.kubernetes.io/name": "registrar" } };
      const ok = (ip: string, port: number) =>
        podAllowed(rec.resources, reg, "Egress", { ip }, "tcp", port);
      expect(ok("10.60.0.3", 6378)).to.equal(true);
      for (const sw of cfg.swarms) {
        const ilb = rec.one(
          "gcp:compute/forwardingRule:ForwardingRule",
          `${sw.name}-docker`,
        ).inputs;
        expect(ok(ilb.ipAddress, 2376), sw.name).to.equal(true);
        expect(ok(ilb.ipAddress, 2377), sw.name).to.equal(false);
      }
      expect(ok("34.1.2.3", 64)).to.equal(true); // the root's public address (mock)
      expect(ok("203.0.113.25", 587)).to.equal(cfg.registrar.smtp !== undefined);
      expect(ok("10.10.0.9", 587)).to.equal(false); // never a private address
      expect(ok("10.60.0.4", 6378)).to.equal(false);
      expect(ok("8.8.8.8", 443)).to.equal(false);
    });
  });
}
