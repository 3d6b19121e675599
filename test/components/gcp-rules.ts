// What the Google Cloud APIs (through the Terraform provider @pulumi/gcp bridges) would do
// with the resources the program registers, encoded where the mocks create them: values
// the API rejects are reported per resource (`resourceRules`, called by the mocks for every
// registration), and behaviour that spans resources is simulated (`migInstances`). Each
// rule cites the page or provider source it comes from. Cloud Monitoring's rules are in
// gcp-monitoring-rules.ts.
import { MONITORING_RULES } from "./gcp-monitoring-rules";

/** Pulumi's autonaming, deterministic here: the resource name plus a 7-hex suffix. */
export function autoName(name: string): string {
  let h = 7;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `${name}-${h.toString(16).padStart(7, "0").slice(-7)}`;
}

/** A rule the API enforces, broken by one resource. */
export interface ApiViolation {
  type: string;
  name: string;
  message: string;
}

type Inputs = Record<string, any>;
type Rule = (i: Inputs) => string[];

// RFC 1035 names: https://cloud.google.com/compute/docs/naming-resources#resource-name-format
const RFC1035 = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

function name(field: string, max = 63): Rule {
  return (i) => {
    const v = i[field];
    if (typeof v !== "string") return [];
    return RFC1035.test(v) && v.length <= max
      ? []
      : [`${field} "${v}" is not an RFC 1035 name of at most ${max} characters`];
  };
}

// Filestore capacity by tier: https://cloud.google.com/filestore/docs/service-tiers
// (BASIC_HDD 1–63.9 TiB; BASIC_SSD 2.5–63.9 TiB; ZONAL/REGIONAL 1–9.75 TiB in 256 GiB steps or
// 10–100 TiB in 2.5 TiB steps; ENTERPRISE 1–10 TiB in 256 GiB steps).
export const FILESTORE_LIMITS: Record<
  string,
  { ranges: { min: number; max: number; step: number }[] }
> = {
  BASIC_HDD: { ranges: [{ min: 1024, max: 65434, step: 1 }] },
  BASIC_SSD: { ranges: [{ min: 2560, max: 65434, step: 1 }] },
  ZONAL: {
    ranges: [
      { min: 1024, max: 9984, step: 256 },
      { min: 10240, max: 102400, step: 2560 },
    ],
  },
  REGIONAL: {
    ranges: [
      { min: 1024, max: 9984, step: 256 },
      { min: 10240, max: 102400, step: 2560 },
    ],
  },
  ENTERPRISE: { ranges: [{ min: 1024, max: 10240, step: 256 }] },
};

const filestore: Rule = (i) => {
  const tier = FILESTORE_LIMITS[i.tier];
  if (!tier) return [`tier ${i.tier} is not a Filestore tier`];
  const gb = Number(i.fileShares?.capacityGb);
  const ok = tier.ranges.some((r) => gb >= r.min && gb <= r.max && (gb - r.min) % r.step === 0);
  return ok ? [] : [`capacityGb ${gb} is outside what tier ${i.tier} accepts`];
};

// Memorystore: 1–300 GB; read replicas (1–5) need STANDARD_HA, READ_REPLICAS_ENABLED and at
// least 5 GB: https://cloud.google.com/memorystore/docs/redis/about-read-replicas
const redis: Rule = (i) => {
  const out: string[] = [];
  const gb = Number(i.memorySizeGb);
  if (!(gb >= 1 && gb <= 300)) out.push(`memorySizeGb ${gb} is outside 1-300`);
  if (i.readReplicasMode === "READ_REPLICAS_ENABLED") {
    if (i.tier !== "STANDARD_HA") out.push("read replicas need tier STANDARD_HA");
    if (gb < 5) out.push("read replicas need at least 5 GB");
    if (!(i.replicaCount >= 1 && i.replicaCount <= 5)) out.push("replicaCount must be 1-5");
  }
  return out;
};

// Regional MIG update policy: maxSurgeFixed and maxUnavailableFixed are each 0 or at least the
// number of zones, one of them above 0, and RECREATE needs maxUnavailable above 0; a regional
// MIG with stateful disks or IPs must not redistribute proactively. Sources: the schema
// descriptions in terraform-provider-google
// google/services/compute/resource_compute_region_instance_group_manager.go, and
// https://cloud.google.com/compute/docs/instance-groups/configuring-stateful-migs#limitations
const regionMig: Rule = (i) => {
  const out = [...name("name")(i), ...name("baseInstanceName", 58)(i)];
  const zones = (i.distributionPolicyZones ?? []).length || 3;
  const p = i.updatePolicy;
  if (p) {
    for (const f of ["maxSurgeFixed", "maxUnavailableFixed"]) {
      const v = p[f];
      if (v !== undefined && v !== 0 && v < zones)
        out.push(`updatePolicy.${f} ${v} must be 0 or at least the ${zones} zones`);
    }
    if ((p.maxSurgeFixed ?? 0) === 0 && (p.maxUnavailableFixed ?? 0) === 0)
      out.push("updatePolicy needs maxSurgeFixed or maxUnavailableFixed above 0");
    if (p.replacementMethod === "RECREATE" && !(p.maxUnavailableFixed > 0))
      out.push("updatePolicy RECREATE needs maxUnavailableFixed above 0");
    if (p.replacementMethod === "RECREATE" && (p.maxSurgeFixed ?? 0) > 0)
      out.push("updatePolicy RECREATE needs maxSurgeFixed 0");
    const stateful = (i.statefulDisks ?? []).length + (i.statefulInternalIps ?? []).length > 0;
    if (stateful && p.instanceRedistributionType !== "NONE")
      out.push("a stateful regional MIG must set instanceRedistributionType NONE");
  }
  return out;
};

// Firewall: allows and denies are exclusive; target tags and target service accounts are
// exclusive, as are source tags and source service accounts:
// https://cloud.google.com/firewall/docs/firewalls#firewall_rule_components
const firewall: Rule = (i) => {
  const out = name("name")(i);
  if ((i.allows ?? []).length && (i.denies ?? []).length) out.push("allows and denies together");
  if ((i.targetTags ?? []).length && (i.targetServiceAccounts ?? []).length)
    out.push("targetTags and targetServiceAccounts together");
  if ((i.sourceTags ?? []).length && (i.sourceServiceAccounts ?? []).length)
    out.push("sourceTags and sourceServiceAccounts together");
  return out;
};

// Forwarding rule: one of ports (at most five), portRange or allPorts:
// https://cloud.google.com/load-balancing/docs/forwarding-rule-concepts#port_specifications
const forwardingRule: Rule = (i) => {
  const out: string[] = [];
  const set = [i.ports !== undefined, i.portRange !== undefined, i.allPorts === true];
  if (set.filter(Boolean).length > 1) out.push("ports, portRange and allPorts are exclusive");
  if ((i.ports ?? []).length > 5) out.push("at most five ports");
  return out;
};

// Service account ids: 6-30 characters, https://cloud.google.com/iam/docs/service-accounts-create
const account: Rule = (i) =>
  /^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/.test(i.accountId ?? "")
    ? []
    : [`accountId "${i.accountId}" is not 6-30 characters [a-z0-9-]`];

// Secret ids: https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create
const secret: Rule = (i) =>
  /^[A-Za-z0-9_-]{1,255}$/.test(i.secretId ?? "") ? [] : [`secretId "${i.secretId}" is invalid`];

// Custom role ids: https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create
const customRole: Rule = (i) =>
  /^[a-zA-Z0-9_.]{3,64}$/.test(i.roleId ?? "") ? [] : [`roleId "${i.roleId}" is invalid`];

// Artifact Registry repository ids: https://cloud.google.com/artifact-registry/docs/repositories/create-repos
const repository: Rule = (i) =>
  /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(i.repositoryId ?? "")
    ? []
    : [`repositoryId "${i.repositoryId}" is invalid`];

// Cloud KMS: key ring and key ids are [a-zA-Z0-9_-]{1,63}; a rotation period is a duration in
// seconds ("7776000s") of at least one day and at most 876,000 hours:
// https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys
// (rotationPeriod) and https://cloud.google.com/kms/docs/resource-hierarchy#key_rings.
const KMS_ID = /^[a-zA-Z0-9_-]{1,63}$/;
const keyRing: Rule = (i) =>
  i.name === undefined || KMS_ID.test(i.name) ? [] : [`key ring name "${i.name}" is invalid`];
const cryptoKey: Rule = (i) => {
  const out =
    i.name === undefined || KMS_ID.test(i.name) ? [] : [`key name "${i.name}" is invalid`];
  if (i.rotationPeriod !== undefined) {
    const m = /^(\d+)(\.\d{1,9})?s$/.exec(i.rotationPeriod);
    const sec = m ? Number(m[1]) : NaN;
    if (!(sec >= 86400 && sec <= 876000 * 3600))
      out.push(`rotationPeriod "${i.rotationPeriod}" is not 1 day to 876000 hours in seconds`);
  }
  return out;
};

// GKE: application-layer secrets encryption needs a key when ENCRYPTED
// (https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets), and Binary
// Authorization takes evaluationMode DISABLED or PROJECT_SINGLETON_POLICY_ENFORCE
// (https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters#evaluationmode).
const cluster: Rule = (i) => {
  const out: string[] = [];
  const enc = i.databaseEncryption;
  if (enc?.state === "ENCRYPTED" && !enc.keyName)
    out.push("databaseEncryption ENCRYPTED needs keyName");
  const mode = i.binaryAuthorization?.evaluationMode;
  if (mode !== undefined && !["DISABLED", "PROJECT_SINGLETON_POLICY_ENFORCE"].includes(mode))
    out.push(`binaryAuthorization.evaluationMode ${mode} is not a GKE mode`);
  if (mode !== undefined && i.binaryAuthorization?.enabled !== undefined)
    out.push("binaryAuthorization: enabled and evaluationMode are exclusive");
  return out;
};

// Binary Authorization policy: allowlist name patterns take a wildcard only at the end (`*`
// within one path segment, `**` across segments); the default rule's modes are
// ALWAYS_ALLOW/ALWAYS_DENY/REQUIRE_ATTESTATION, enforced or dry-run:
// https://cloud.google.com/binary-authorization/docs/policy-yaml-reference
const binauthzPolicy: Rule = (i) => {
  const out: string[] = [];
  for (const p of i.admissionWhitelistPatterns ?? []) {
    const pattern = String(p.namePattern);
    if (/\*/.test(pattern.replace(/\*{1,2}$/, "")))
      out.push(`namePattern "${pattern}" has a wildcard before its end`);
  }
  const r = i.defaultAdmissionRule ?? {};
  if (!["ALWAYS_ALLOW", "ALWAYS_DENY", "REQUIRE_ATTESTATION"].includes(r.evaluationMode))
    out.push(`defaultAdmissionRule.evaluationMode ${r.evaluationMode} is invalid`);
  if (!["ENFORCED_BLOCK_AND_AUDIT_LOG", "DRYRUN_AUDIT_LOG_ONLY"].includes(r.enforcementMode))
    out.push(`defaultAdmissionRule.enforcementMode ${r.enforcementMode} is invalid`);
  return out;
};

// Cloud Armor security policy: priorities unique; the default rule (priority 2147483647)
// must be present; an expression has at most five subexpressions; a SRC_IPS_V1 match lists
// at most ten ranges; throttle needs rateLimitOptions with conformAction "allow" and a deny
// exceedAction: https://cloud.google.com/armor/docs/security-policy-overview,
// https://cloud.google.com/armor/docs/rules-language-reference#expression_limits,
// https://cloud.google.com/armor/docs/rate-limiting-overview
const securityPolicy: Rule = (i) => {
  const out: string[] = [];
  const rules: any[] = i.rules ?? [];
  const prios = rules.map((r) => r.priority);
  if (new Set(prios).size !== prios.length) out.push("rule priorities are not unique");
  if (!prios.includes(2147483647)) out.push("no default rule (priority 2147483647)");
  for (const r of rules) {
    const expr: string | undefined = r.match?.expr?.expression;
    if (expr !== undefined && expr.split(/&&|\|\|/).length > 5)
      out.push(`rule ${r.priority}: more than five subexpressions`);
    if ((r.match?.config?.srcIpRanges ?? []).length > 10)
      out.push(`rule ${r.priority}: more than ten source ranges`);
    if (r.action === "throttle") {
      const o = r.rateLimitOptions;
      if (!o || o.conformAction !== "allow" || !/^deny\((403|404|429|502)\)$/.test(o.exceedAction))
        out.push(`rule ${r.priority}: throttle needs conformAction allow and a deny exceedAction`);
    }
  }
  return out;
};

// Instance templates: a boot disk's sourceImage naming a family resolves to the family's newest
// image whenever a VM is created (https://cloud.google.com/compute/docs/images/image-families-best-practices);
// "project/family" shorthand is the same. Swarm nodes must name one image.
export function floatingImage(sourceImage: string): boolean {
  return /\/family\//.test(sourceImage) || /^[a-z0-9-]+\/[a-z0-9-]+$/.test(sourceImage);
}

const RULES: Record<string, Rule> = {
  "gcp:kms/keyRing:KeyRing": keyRing,
  "gcp:kms/cryptoKey:CryptoKey": cryptoKey,
  "gcp:container/cluster:Cluster": cluster,
  "gcp:binaryauthorization/policy:Policy": binauthzPolicy,
  "gcp:compute/securityPolicy:SecurityPolicy": securityPolicy,
  "gcp:filestore/instance:Instance": filestore,
  "gcp:redis/instance:Instance": redis,
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": regionMig,
  "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig": name("name"),
  "gcp:compute/firewall:Firewall": firewall,
  "gcp:compute/forwardingRule:ForwardingRule": forwardingRule,
  "gcp:serviceaccount/account:Account": account,
  "gcp:secretmanager/secret:Secret": secret,
  "gcp:projects/iAMCustomRole:IAMCustomRole": customRole,
  "gcp:artifactregistry/repository:Repository": repository,
  ...MONITORING_RULES,
};

/** The API's objections to one registered resource (empty when it would be accepted). */
export function resourceRules(type: string, name: string, inputs: Inputs): ApiViolation[] {
  const rule = RULES[type];
  return rule ? rule(inputs).map((message) => ({ type, name, message })) : [];
}

interface Res {
  type: string;
  name: string;
  inputs: Inputs;
}

const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const PIC = "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig";

/**
 * How many VMs a regional MIG runs after the first `pulumi up` and after a later `up`.
 * Each RegionPerInstanceConfig is created through `createInstances`, which adds a named VM
 * and raises the group's target size by one (terraform-provider-google
 * google/services/compute/resource_compute_region_per_instance_config.go, Create: POST
 * …/createInstances; API: regionInstanceGroupManagers.createInstances). `target_size` is
 * Optional+Computed in the provider: unset, the refreshed size is kept; set, a later `up`
 * resizes the group back to it, deleting VMs (hashicorp/terraform-provider-google#15911).
 */
export function migInstances(
  resources: Res[],
  migName: string,
): { firstUp: number; reUp: number; named: string[] } {
  const mig = resources.find((r) => r.type === MIG && r.name === migName);
  if (!mig) throw new Error(`no MIG ${migName}`);
  const groupName = mig.inputs.name ?? autoName(mig.name);
  const pics = resources.filter(
    (r) => r.type === PIC && r.inputs.regionInstanceGroupManager === groupName,
  );
  const target = mig.inputs.targetSize as number | undefined;
  const firstUp = (target ?? 0) + pics.length;
  return {
    firstUp,
    reUp: target ?? firstUp,
    named: pics.map((p) => p.inputs.name as string),
  };
}

const WORKLOADS = [
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:apps/v1:DaemonSet",
];

/** Every image reference a workload of the stack runs, with where it is used. */
export function workloadImages(resources: Res[]): { where: string; image: string }[] {
  const out: { where: string; image: string }[] = [];
  for (const r of resources) {
    if (WORKLOADS.includes(r.type)) {
      const pod = r.inputs.spec?.template?.spec ?? {};
      for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])])
        out.push({ where: `${r.name}/${c.name}`, image: c.image });
    }
    // The registrar's swarms file: the atServer image and the storage jobs' image.
    const swarmsJson =
      r.type === "kubernetes:core/v1:Secret" && r.inputs.stringData?.["swarms.json"];
    if (swarmsJson) {
      const f = JSON.parse(swarmsJson);
      if (f.jobImage) out.push({ where: `${r.name}/jobImage`, image: f.jobImage });
      for (const [n, s] of Object.entries<any>(f.swarms))
        out.push({ where: `${r.name}/${n}`, image: s.image });
    }
  }
  return out;
}

/**
 * Images a first `pulumi up` could not start: references into an Artifact Registry
 * repository the same stack creates (empty on a first run) that are not the exact
 * `tag@digest` of an image the stack itself builds and pushes in that run.
 */
export function unbuiltImages(resources: Res[], project: string): string[] {
  const repos = resources
    .filter((r) => r.type === "gcp:artifactregistry/repository:Repository")
    .map(
      (r) =>
        `${r.inputs.location}-docker.pkg.dev/${r.inputs.project ?? project}/${r.inputs.repositoryId}/`,
    );
  const built = resources
    .filter((r) => r.type === "docker-build:index:Image" && r.inputs.push)
    .map((r) => r.inputs.tags[0] as string);
  return workloadImages(resources)
    .filter(
      ({ image }) =>
        repos.some((p) => image.startsWith(p)) &&
        !built.some((t) =>
          new RegExp(`^${t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}@sha256:[a-f0-9]{64}$`).test(
            image,
          ),
        ),
    )
    .map(
      ({ where, image }) => `${where}: ${image} is in this stack's registry but nothing pushes it`,
    );
}
