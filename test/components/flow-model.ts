// Which network flows the recorded stack allows, computed the way the VPC decides them:
// ingress by the highest-priority matching firewall rule (implied deny below all rules),
// egress allowed unless a matching egress deny wins, and internet egress of address-less
// VMs only through a Cloud NAT that covers their subnet.
// Rules: https://cloud.google.com/firewall/docs/firewalls (components, priority, implied
// rules; a rule without a source applies to 0.0.0.0/0, one without targets to every VM),
// https://cloud.google.com/nat/docs/overview (NAT per subnet and IP range).

interface Res {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

export interface Endpoint {
  name: string;
  ip: string;
  /** Network tags of the VM it is (or runs on); none outside the VPC. */
  tags: string[];
  /** Inside the VPC (a VM, node or pod) rather than on the internet. */
  internal: boolean;
}

export type Proto = "tcp" | "udp";

function ipNum(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipNum(ip) / size) === Math.floor(ipNum(base) / size);
}

export function cidrsOverlap(a: string, b: string): boolean {
  return inCidr(a.split("/")[0]!, b) || inCidr(b.split("/")[0]!, a);
}

function portMatches(spec: { protocol: string; ports?: string[] }, proto: Proto, port: number) {
  if (spec.protocol !== proto && spec.protocol !== "all") return false;
  if (!spec.ports || spec.ports.length === 0) return true;
  return spec.ports.some((p) => {
    const [lo, hi] = p.split("-").map(Number) as [number, number | undefined];
    return port >= lo && port <= (hi ?? lo);
  });
}

const FIREWALL = "gcp:compute/firewall:Firewall";

function rules(resources: Res[], direction: "INGRESS" | "EGRESS") {
  return resources
    .filter((r) => r.type === FIREWALL && (r.inputs.direction ?? "INGRESS") === direction)
    .filter((r) => !r.inputs.disabled)
    .sort((a, b) => (a.inputs.priority ?? 1000) - (b.inputs.priority ?? 1000));
}

function targets(r: Res, vm: Endpoint): boolean {
  const t: string[] = r.inputs.targetTags ?? [];
  return t.length === 0 || t.some((x) => vm.tags.includes(x));
}

function verdict(r: Res, proto: Proto, port: number): "allow" | "deny" | undefined {
  if ((r.inputs.allows ?? []).some((a: any) => portMatches(a, proto, port))) return "allow";
  if ((r.inputs.denies ?? []).some((d: any) => portMatches(d, proto, port))) return "deny";
  return undefined;
}

/** Whether the VPC lets `src` open `proto/port` on the VM (or pod) `dst`. */
export function ingressAllowed(
  resources: Res[],
  src: Endpoint,
  dst: Endpoint,
  proto: Proto,
  port: number,
): boolean {
  for (const r of rules(resources, "INGRESS")) {
    if (!targets(r, dst)) continue;
    const ranges: string[] = r.inputs.sourceRanges ?? [];
    const tags: string[] = r.inputs.sourceTags ?? [];
    const noSource = ranges.length === 0 && tags.length === 0;
    const fromSource =
      noSource ||
      ranges.some((c) => inCidr(src.ip, c)) ||
      (src.internal && tags.some((t) => src.tags.includes(t)));
    if (!fromSource) continue;
    const v = verdict(r, proto, port);
    if (v) return v === "allow";
  }
  return false; // implied deny ingress
}

/** Whether the VPC lets `src` send to `ip` (egress rules; implied allow). */
export function egressAllowed(
  resources: Res[],
  src: Endpoint,
  ip: string,
  proto: Proto,
  port: number,
): boolean {
  for (const r of rules(resources, "EGRESS")) {
    if (!targets(r, src)) continue;
    const ranges: string[] = r.inputs.destinationRanges ?? ["0.0.0.0/0"];
    if (!ranges.some((c) => inCidr(ip, c))) continue;
    const v = verdict(r, proto, port);
    if (v) return v === "allow";
  }
  return true; // implied allow egress
}

/** Whether an address-less VM in `subnetCidr` reaches the internet (Cloud NAT covers it). */
export function natCovers(resources: Res[], subnetCidr: string): boolean {
  const subnets = resources.filter((r) => r.type === "gcp:compute/subnetwork:Subnetwork");
  return resources
    .filter((r) => r.type === "gcp:compute/routerNat:RouterNat")
    .some((nat) => {
      const mode = nat.inputs.sourceSubnetworkIpRangesToNat;
      if (mode === "ALL_SUBNETWORKS_ALL_IP_RANGES") return true;
      if (mode === "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES")
        return subnets.some((s) => s.inputs.ipCidrRange === subnetCidr);
      return false;
    });
}

/** A pod (namespace and labels) or an address outside the cluster. */
export type Peer = { namespace: string; labels: Record<string, string> } | { ip: string };

const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

function selects(
  sel: { matchLabels?: Record<string, string> } | undefined,
  labels: Record<string, string>,
) {
  return Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function peerMatches(rule: any, peer: Peer): boolean {
  if (rule.ipBlock)
    return (
      "ip" in peer &&
      inCidr(peer.ip, rule.ipBlock.cidr) &&
      !(rule.ipBlock.except ?? []).some((c: string) => inCidr(peer.ip, c))
    );
  if (!("namespace" in peer)) return false;
  const nsOk = rule.namespaceSelector
    ? selects(rule.namespaceSelector, { "kubernetes.io/metadata.name": peer.namespace })
    : true;
  return nsOk && (rule.podSelector ? selects(rule.podSelector, peer.labels) : true);
}

/**
 * Whether Kubernetes NetworkPolicies let `pod` send to (egress) or receive from (ingress)
 * `peer` on proto/port: a pod no policy selects for that direction is open; a selected pod
 * allows only what some selecting policy's rule allows.
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
export function podAllowed(
  resources: Res[],
  pod: { namespace: string; labels: Record<string, string> },
  direction: "Ingress" | "Egress",
  peer: Peer,
  proto: Proto,
  port: number,
): boolean {
  const policies = resources
    .filter((r) => r.type === NETPOL && r.inputs.metadata?.namespace === pod.namespace)
    .map((r) => r.inputs.spec)
    .filter((s) => selects(s.podSelector, pod.labels) && (s.policyTypes ?? []).includes(direction));
  if (policies.length === 0) return true;
  return policies.some((s) =>
    (direction === "Ingress" ? (s.ingress ?? []) : (s.egress ?? [])).some(
      (r: any) =>
        (direction === "Ingress" ? r.from : (r.to ?? [])).some((p: any) => peerMatches(p, peer)) &&
        (!r.ports ||
          r.ports.some(
            (p: any) =>
              (p.protocol ?? "TCP").toLowerCase() === proto &&
              (p.port === undefined || p.port === port),
          )),
    ),
  );
}
