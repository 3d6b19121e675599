// The one place that reads Pulumi config. Everything is validated here and handed on as a
// typed, frozen object; a bad value fails the program with a message naming its key.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ObjectReader, Reader, type RawConfig } from "./config-reader";

export { ConfigError, type RawConfig } from "./config-reader";

export type Env = "dev" | "prod";
export type ReleaseChannel = "RAPID" | "REGULAR" | "STABLE";

export interface ClusterConfig {
  machineType: string;
  minNodesPerZone: number;
  maxNodesPerZone: number;
  releaseChannel: ReleaseChannel;
  /** /28 for the private control plane's peering range. */
  masterCidr: string;
}

export interface RedisConfig {
  memorySizeGb: number;
  replicaCount: number;
  version: string;
  maintenanceDay: string;
  maintenanceHour: number;
}

export interface DirectoryConfig {
  /** Image reference; unset when the stack builds the images itself (`buildImages`). */
  image: string | undefined;
  minReplicas: number;
  maxReplicas: number;
  cpu: string;
  memory: string;
}

export type FilestoreTier = "BASIC_HDD" | "BASIC_SSD" | "ZONAL" | "REGIONAL" | "ENTERPRISE";

export interface FilestoreConfig {
  tier: FilestoreTier;
  capacityGb: number;
  /** Daily backups are kept this many days (0 turns the backup job off). */
  backupKeepDays: number;
}

export interface SwarmConfig {
  /** Short DNS-safe name; the swarm's domain is <name>.<domain>. */
  name: string;
  /** atServer ports the swarm publishes, inclusive. */
  firstPort: number;
  lastPort: number;
  managerMachineType: string;
  workerMachineType: string;
  /** Worker count bounds for the autoscaler (whole region). */
  minWorkers: number;
  maxWorkers: number;
  /**
   * `tcp://<host>:<port>` where `pulumi up` reaches manager 0's Docker API (an IAP tunnel's
   * local end): set for the second step of `up`, which declares the swarm's own objects.
   */
  engineHost: string | undefined;
}

/** What every swarm VM boots: an exact image and pinned package sources (no floating family). */
export interface SwarmNodeImageConfig {
  /** `projects/<project>/global/images/<name>`: one image, never a family. */
  image: string;
  /** snapshot.debian.org timestamp the boot installs packages from (`20261201T000000Z`). */
  aptSnapshot: string;
  /** Exact Ops Agent version the workers install (memory metrics for the autoscaler). */
  opsAgentVersion: string;
}

/** Swarm wildcard certificates: signed by the stack's private CA, or issued by ACME (DNS-01) on the swarm. */
export type SwarmTlsConfig =
  { mode: "private-ca" } | { mode: "acme"; email: string; directoryUrl: string };

/** Root-name TLS: a private CA made by the stack (dev), or a certificate from secret config. */
export type RootTlsConfig =
  | { mode: "private-ca" }
  | { mode: "provided"; certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };

/** The registrar's outgoing mail (one-time codes). Without it codes only go to its log (dev). */
export interface RegistrarSmtpConfig {
  host: string;
  port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user: string | undefined;
  from: string;
  /** Secret config `registrarSmtpPassword`, if set. */
  password: pulumi.Output<string> | undefined;
}

export interface RegistrarServiceConfig {
  /** Image reference; unset when the stack builds the images itself (`buildImages`). */
  image: string | undefined;
  /** Initial size of the SQLite volume (a regional persistent disk: 10 GiB at least). */
  storageGb: number;
  cpu: string;
  memory: string;
  smtp: RegistrarSmtpConfig | undefined;
  /** CIDRs that may reach /admin through the load balancer (Cloud Armor); none by default. */
  adminCidrs: string[];
  /** Secret config; the stack generates a key when unset. */
  apiKey: pulumi.Output<string> | undefined;
  adminKey: pulumi.Output<string> | undefined;
  /** TLS of registrar.<domain> at its HTTPS load balancer; same modes as the root name. */
  tls: RootTlsConfig;
}

/** Where alerts go (issue 15): at least one channel; auth tokens are Pulumi secrets. */
export interface AlertingConfig {
  /** E-mail addresses, one notification channel each. */
  emails: string[];
  /** PagerDuty Events API v1 integration key (secret config `alertPagerDutyKey`). */
  pagerDutyServiceKey: pulumi.Output<string> | undefined;
  /** Certificates alert this many days before they expire. */
  certificateWarningDays: number;
}

export interface PlatformConfig {
  project: string;
  region: string;
  env: Env;
  /** DNS domain of the platform (no trailing dot); the directory is root.<domain>. */
  domain: string;
  zones: string[];
  deletionProtection: boolean;
  /** CIDRs allowed to reach the clusters' IP control-plane endpoints (the DNS endpoint uses IAM). */
  authorizedNetworks: string[];
  directoryCluster: ClusterConfig;
  registrarCluster: ClusterConfig;
  redis: RedisConfig;
  directory: DirectoryConfig;
  rootTls: RootTlsConfig;
  /** The registrar workload (deployed when there are swarms to place atServers on). */
  registrar: RegistrarServiceConfig;
  filestore: FilestoreConfig;
  swarms: SwarmConfig[];
  swarmTls: SwarmTlsConfig;
  swarmNodeImage: SwarmNodeImageConfig;
  /** The atServer image the registrar runs on the swarms; undefined when built (`buildImages`). */
  atserverImage: string | undefined;
  /** Build the services' images from services/<svc>/Dockerfile and push them (tag below). */
  buildImages: boolean;
  imageTag: string;
  alerting: AlertingConfig;
}

/** Secret values, keyed by full name. */
export type RawSecrets = Record<string, pulumi.Output<string> | undefined>;

const NS = "atplatform";
const PLAIN_KEYS = [
  "env",
  "domain",
  "zones",
  "deletionProtection",
  "authorizedNetworks",
  "directoryCluster",
  "registrarCluster",
  "redis",
  "directory",
  "rootTls",
  "filestore",
  "swarms",
  "swarmTls",
  "acmeEmail",
  "acmeDirectoryUrl",
  "buildImages",
  "imageTag",
  "atserverImage",
  "registrar",
  "registrarTls",
  "registrarAdminCidrs",
  "swarmNodeImage",
  "alerting",
];
const SECRET_KEYS = [
  "rootTlsCert",
  "rootTlsKey",
  "registrarTlsCert",
  "registrarTlsKey",
  "registrarApiKey",
  "registrarAdminKey",
  "registrarSmtpPassword",
  "alertPagerDutyKey",
];

export function loadConfig(): PlatformConfig {
  const own = new pulumi.Config(NS);
  const gcp = new pulumi.Config("gcp");
  const raw: RawConfig = { "gcp:project": gcp.get("project"), "gcp:region": gcp.get("region") };
  for (const k of PLAIN_KEYS) raw[`${NS}:${k}`] = own.get(k);
  const secrets: RawSecrets = {};
  for (const k of SECRET_KEYS) secrets[`${NS}:${k}`] = own.getSecret(k);
  return parseConfig(raw, secrets, { preview: pulumi.runtime.isDryRun() });
}

/** Secrets an operator sets before the first `up`; a preview without them still runs. */
const PREVIEWABLE_SECRETS = [
  "rootTlsCert",
  "rootTlsKey",
  "registrarTlsCert",
  "registrarTlsKey",
].map((k) => `${NS}:${k}`);

/** A secret whose value a preview does not know (it shows as `[secret]`, computed). */
function unknownSecret(): pulumi.Output<string> {
  const Output = pulumi.Output as unknown as new (...a: unknown[]) => pulumi.Output<string>;
  return new Output(
    new Set(),
    Promise.resolve(undefined),
    Promise.resolve(false),
    Promise.resolve(true),
    Promise.resolve(new Set()),
  );
}

export function parseConfig(
  raw: RawConfig,
  given: RawSecrets = {},
  opts: { preview?: boolean } = {},
): PlatformConfig {
  // A preview (CI) may lack the operator's certificates: it runs with unknown values and a
  // warning; `pulumi up` still stops on a missing one, naming the key.
  const secrets: RawSecrets = { ...given };
  if (opts.preview)
    for (const k of PREVIEWABLE_SECRETS)
      if (secrets[k] === undefined) {
        secrets[k] = unknownSecret();
        void pulumi.log.warn(`${k} is not set: previewed as unknown; \`pulumi up\` needs it`);
      }
  const r = new Reader(raw, OBJECT_FIELDS);
  const project = r.string("gcp:project", { pattern: /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/ });
  const region = r.string("gcp:region", { pattern: /^[a-z]+-[a-z]+\d+$/ });
  const env = r.oneOf("atplatform:env", ["dev", "prod"] as const);
  const prod = env === "prod";
  const domain = r.string("atplatform:domain", {
    pattern: /^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    hint: "a lower-case DNS name without trailing dot",
  });
  const zones = r.list("atplatform:zones", (z, key) => {
    if (!z.startsWith(`${region}-`) || !/^[a-z]+-[a-z]+\d+-[a-z]$/.test(z))
      throw new ConfigError(key, `"${z}" is not a zone of region ${region}`);
    return z;
  });
  if (zones.length < 3 || new Set(zones).size !== zones.length)
    throw new ConfigError("atplatform:zones", "needs at least three distinct zones");
  const deletionProtection = r.bool("atplatform:deletionProtection", prod);
  if (prod && !deletionProtection)
    throw new ConfigError("atplatform:deletionProtection", "must be true in prod");
  const authorizedNetworks = r.list("atplatform:authorizedNetworks", cidr, []);

  const directoryCluster = clusterConfig(r, "atplatform:directoryCluster", {
    machineType: "e2-standard-2",
    minNodesPerZone: 1,
    maxNodesPerZone: 3,
    masterCidr: "172.16.0.0/28",
  });
  const registrarCluster = clusterConfig(r, "atplatform:registrarCluster", {
    machineType: "e2-standard-2",
    minNodesPerZone: 1,
    maxNodesPerZone: 1,
    masterCidr: "172.16.0.16/28",
  });
  if (directoryCluster.masterCidr === registrarCluster.masterCidr)
    throw new ConfigError("atplatform:registrarCluster.masterCidr", "overlaps the directory's");

  const redisObj = r.object("atplatform:redis");
  const redis: RedisConfig = {
    // Memorystore offers read replicas only from the 5 GB capacity tier up.
    memorySizeGb: redisObj.int("memorySizeGb", 5, { min: 5, max: 300 }),
    replicaCount: redisObj.int("replicaCount", undefined, { min: prod ? 2 : 1, max: 5 }),
    version: redisObj.string("version", "REDIS_7_2", /^REDIS_\d+_\d+$/),
    maintenanceDay: redisObj.oneOf("maintenanceDay", DAYS, "SUNDAY"),
    maintenanceHour: redisObj.int("maintenanceHour", 3, { min: 0, max: 23 }),
  };

  // The stack builds and pushes the bundled services by default (a first `up` has an empty
  // registry); configured images override the built ones, for operators who build elsewhere.
  const buildImages = r.bool("atplatform:buildImages", true);
  const imageRef = prod ? PINNED_IMAGE_REF : IMAGE_REF;
  const imageTag = r.string("atplatform:imageTag", { pattern: /^[\w][\w.-]{0,127}$/ }, env);
  const dirObj = r.object("atplatform:directory");
  const directory: DirectoryConfig = {
    // Required unless the stack builds the image; when both are set the given one wins.
    image:
      buildImages && dirObj.has("image") === false
        ? undefined
        : dirObj.string("image", undefined, imageRef),
    minReplicas: dirObj.int("minReplicas", prod ? 3 : 2, { min: 2, max: 100 }),
    maxReplicas: dirObj.int("maxReplicas", prod ? 12 : 4, { min: 2, max: 200 }),
    cpu: dirObj.string("cpu", "250m", /^\d+m?$/),
    memory: dirObj.string("memory", "256Mi", /^\d+(Mi|Gi)$/),
  };
  if (directory.maxReplicas < directory.minReplicas)
    throw new ConfigError("atplatform:directory.maxReplicas", "is below minReplicas");

  const mode = r.oneOf(
    "atplatform:rootTls",
    ["private-ca", "provided"] as const,
    prod ? "provided" : "private-ca",
  );
  let rootTls: RootTlsConfig = { mode: "private-ca" };
  if (mode === "provided") {
    rootTls = {
      mode,
      certPem: pem(secrets, "atplatform:rootTlsCert", "CERTIFICATE", "rootTls"),
      keyPem: pem(secrets, "atplatform:rootTlsKey", "PRIVATE KEY", "rootTls"),
    };
  }

  const fsObj = r.object("atplatform:filestore");
  const filestore: FilestoreConfig = {
    tier: fsObj.oneOf("tier", FILESTORE_TIERS, prod ? "REGIONAL" : "BASIC_HDD"),
    capacityGb: fsObj.int("capacityGb", 1024, { min: 1024, max: 102400 }),
    backupKeepDays: fsObj.int("backupKeepDays", prod ? 30 : 7, { min: 0, max: 365 }),
  };
  const sizes = FILESTORE_CAPACITY[filestore.tier];
  if (
    !sizes.some(
      (r) =>
        filestore.capacityGb >= r.min &&
        filestore.capacityGb <= r.max &&
        (filestore.capacityGb - r.min) % r.step === 0,
    )
  )
    throw new ConfigError(
      "atplatform:filestore.capacityGb",
      `${filestore.capacityGb} GiB is not a size tier ${filestore.tier} offers (${sizes
        .map((r) => `${r.min}-${r.max}${r.step > 1 ? ` in steps of ${r.step}` : ""}`)
        .join(" or ")})`,
    );
  if (
    prod &&
    (filestore.tier === "BASIC_HDD" || filestore.tier === "BASIC_SSD" || filestore.tier === "ZONAL")
  )
    throw new ConfigError(
      "atplatform:filestore.tier",
      "prod needs REGIONAL or ENTERPRISE (a zonal share is a single point of failure)",
    );

  const swarms = r.objectList("atplatform:swarms").map((o) => swarmConfig(o));
  const names = swarms.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError("atplatform:swarms", `swarm name "${dup}" is used twice`);

  // Swarm nodes pre-pull the atServer image by digest from Artifact Registry (the only
  // registry their metadata-server token opens), so a configured one must be exactly that.
  // In dev a tag will do: the stack pins it to its digest at `up` (image-pins.ts).
  const atserverImage = r.optionalString(
    "atplatform:atserverImage",
    prod ? AR_PINNED_IMAGE_REF : AR_IMAGE_REF,
  );
  if (swarms.length > 0 && !buildImages && atserverImage === undefined)
    throw new ConfigError(
      "atplatform:atserverImage",
      "is required for swarms (or set buildImages)",
    );

  const swarmNodeImage = swarmNodeImageConfig(r);

  const registrar = registrarConfig(r, secrets, {
    prod,
    domain,
    deployed: swarms.length > 0,
    imageRef,
  });
  if (swarms.length > 0 && !buildImages && registrar.image === undefined)
    throw new ConfigError(
      "atplatform:registrar.image",
      "is required for swarms (the registrar runs when there are swarms), or set buildImages",
    );

  const tlsMode = r.oneOf(
    "atplatform:swarmTls",
    ["private-ca", "acme"] as const,
    prod ? "acme" : "private-ca",
  );
  const swarmTls: SwarmTlsConfig =
    tlsMode === "acme"
      ? {
          mode: "acme",
          email: r.string("atplatform:acmeEmail", {
            pattern: /^[^@\s'"]+@[^@\s'"]+\.[a-z]{2,}$/,
            hint: "an e-mail address",
          }),
          directoryUrl: r.string(
            "atplatform:acmeDirectoryUrl",
            { pattern: /^https:\/\/[^\s'"]+$/ },
            "https://acme-v02.api.letsencrypt.org/directory",
          ),
        }
      : { mode: "private-ca" };

  const alerting = alertingConfig(r, secrets);

  return Object.freeze({
    project,
    region,
    env,
    domain,
    zones,
    deletionProtection,
    authorizedNetworks,
    directoryCluster,
    registrarCluster,
    redis,
    directory,
    rootTls,
    registrar,
    filestore,
    swarms,
    swarmTls,
    swarmNodeImage,
    atserverImage,
    buildImages,
    imageTag,
    alerting,
  });
}

const EMAIL = /^[^@\s'"<>]+@[^@\s'"<>]+\.[a-z]{2,}$/;

function alertingConfig(r: Reader, secrets: RawSecrets): AlertingConfig {
  const o = r.object("atplatform:alerting");
  const emails = o.has("emails")
    ? o.strings("emails", (v, key) => {
        if (!EMAIL.test(v)) throw new ConfigError(key, `"${v}" is not an e-mail address`);
        return v;
      })
    : [];
  if (new Set(emails).size !== emails.length)
    throw new ConfigError("atplatform:alerting.emails", "lists an address twice");
  const pagerDutyServiceKey = secretText(secrets, "atplatform:alertPagerDutyKey", 20);
  // An alert that notifies nobody is an alert nobody sees.
  if (emails.length === 0 && pagerDutyServiceKey === undefined)
    throw new ConfigError(
      "atplatform:alerting.emails",
      "is required: alerts need at least one e-mail address or the secret alertPagerDutyKey",
    );
  return {
    emails,
    pagerDutyServiceKey,
    certificateWarningDays: o.int("certificateWarningDays", 21, { min: 7, max: 60 }),
  };
}

const IMAGE_REF = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/;
/** prod runs only images pinned by digest (a tag can be moved under a running service). */
const PINNED_IMAGE_REF = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[\w.-]+)?@sha256:[a-f0-9]{64}$/;
/** An Artifact Registry image pinned by digest: `<location>-docker.pkg.dev/<project>/<repo>/…`. */
const AR_IMAGE_REF =
  /^[a-z0-9-]+-docker\.pkg\.dev\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/[a-z0-9._-]+(\/[a-z0-9._-]+)+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/;
const AR_PINNED_IMAGE_REF =
  /^[a-z0-9-]+-docker\.pkg\.dev\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/[a-z0-9._-]+(\/[a-z0-9._-]+)+(:[\w.-]+)?@sha256:[a-f0-9]{64}$/;
const FILESTORE_TIERS = ["BASIC_HDD", "BASIC_SSD", "ZONAL", "REGIONAL", "ENTERPRISE"] as const;
/** Capacities (GiB) each tier accepts: https://cloud.google.com/filestore/docs/service-tiers */
const FILESTORE_CAPACITY: Record<FilestoreTier, { min: number; max: number; step: number }[]> = {
  BASIC_HDD: [{ min: 1024, max: 65434, step: 1 }],
  BASIC_SSD: [{ min: 2560, max: 65434, step: 1 }],
  ZONAL: [
    { min: 1024, max: 9984, step: 256 },
    { min: 10240, max: 102400, step: 2560 },
  ],
  REGIONAL: [
    { min: 1024, max: 9984, step: 256 },
    { min: 10240, max: 102400, step: 2560 },
  ],
  ENTERPRISE: [{ min: 1024, max: 10240, step: 256 }],
};
/** Ports the swarm itself uses on every node; an atServer range must not include them. */
/** (9464: the node metrics agent's host port, read on the VM by the Ops Agent.) */
export const SWARM_RESERVED_PORTS = [2375, 2376, 2377, 4789, 7946, 9100, 9464];

function swarmConfig(o: ObjectReader): SwarmConfig {
  const name = o.string("name", undefined, /^[a-z][a-z0-9]{2,11}$/);
  const range = o.string("ports", undefined, /^\d{4,5}-\d{4,5}$/);
  const [firstPort, lastPort] = range.split("-").map(Number) as [number, number];
  const portsKey = `${o.key}.ports`;
  if (firstPort < 1024 || lastPort > 65535 || firstPort > lastPort)
    throw new ConfigError(portsKey, `"${range}" must be an ascending range within 1024-65535`);
  const clash = SWARM_RESERVED_PORTS.find((p) => p >= firstPort && p <= lastPort);
  if (clash !== undefined)
    throw new ConfigError(portsKey, `"${range}" includes ${clash}, which the swarm itself uses`);
  const s: SwarmConfig = {
    name,
    firstPort,
    lastPort,
    managerMachineType: o.string("managerMachineType", "e2-small", /^[a-z0-9]+-[a-z0-9-]+$/),
    workerMachineType: o.string("workerMachineType", "e2-standard-2", /^[a-z0-9]+-[a-z0-9-]+$/),
    minWorkers: o.int("minWorkers", 1, { min: 1, max: 500 }),
    maxWorkers: o.int("maxWorkers", 3, { min: 1, max: 1000 }),
    engineHost: o.has("engineHost")
      ? o.string("engineHost", undefined, /^tcp:\/\/[a-z0-9.-]+:\d{1,5}$/)
      : undefined,
  };
  if (s.maxWorkers < s.minWorkers)
    throw new ConfigError(`${o.key}.maxWorkers`, "is below minWorkers");
  return s;
}

/**
 * Defaults: a Debian 12 image by exact name (debian-cloud publishes one per build; the
 * family would move under a running swarm), packages from a fixed Debian snapshot.
 */
export const SWARM_NODE_IMAGE_DEFAULTS: SwarmNodeImageConfig = {
  image: "projects/debian-cloud/global/images/debian-12-bookworm-v20261006",
  aptSnapshot: "20261101T000000Z",
  opsAgentVersion: "2.58.0",
};

function swarmNodeImageConfig(r: Reader): SwarmNodeImageConfig {
  const o = r.object("atplatform:swarmNodeImage");
  const d = SWARM_NODE_IMAGE_DEFAULTS;
  const image = o.string(
    "image",
    d.image,
    /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/global\/images\/\S+$/,
  );
  // https://cloud.google.com/compute/docs/images/image-families-best-practices: a family
  // resolves to the newest image at each VM creation.
  if (
    /\/images\/family\//.test(image) ||
    !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(image.split("/").pop()!)
  )
    throw new ConfigError(
      "atplatform:swarmNodeImage.image",
      `"${image}" must name one image (projects/<p>/global/images/<name>), not a family`,
    );
  return {
    image,
    aptSnapshot: o.string("aptSnapshot", d.aptSnapshot, /^\d{8}T\d{6}Z$/),
    opsAgentVersion: o.string("opsAgentVersion", d.opsAgentVersion, /^\d+\.\d+\.\d+$/),
  };
}

const DAYS = [
  "MONDAY",
  "TUESDAY",
  "WEDNESDAY",
  "THURSDAY",
  "FRIDAY",
  "SATURDAY",
  "SUNDAY",
] as const;

function clusterConfig(
  r: Reader,
  key: string,
  d: { machineType: string; minNodesPerZone: number; maxNodesPerZone: number; masterCidr: string },
): ClusterConfig {
  const o = r.object(key);
  const c: ClusterConfig = {
    machineType: o.string("machineType", d.machineType, /^[a-z0-9]+-[a-z0-9-]+$/),
    minNodesPerZone: o.int("minNodesPerZone", d.minNodesPerZone, { min: 0, max: 50 }),
    maxNodesPerZone: o.int("maxNodesPerZone", d.maxNodesPerZone, { min: 1, max: 100 }),
    releaseChannel: o.oneOf("releaseChannel", ["RAPID", "REGULAR", "STABLE"] as const, "REGULAR"),
    masterCidr: o.string("masterCidr", d.masterCidr, /^\d+\.\d+\.\d+\.\d+\/28$/),
  };
  if (c.maxNodesPerZone < c.minNodesPerZone)
    throw new ConfigError(`${key}.maxNodesPerZone`, "is below minNodesPerZone");
  return c;
}

function cidr(v: string, key: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(v);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32)
    throw new ConfigError(key, `"${v}" is not an IPv4 CIDR`);
  if (v === "0.0.0.0/0") throw new ConfigError(key, "must not open the control plane to the world");
  return v;
}

function adminCidr(v: string, key: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(v);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32)
    throw new ConfigError(key, `"${v}" is not an IPv4 CIDR`);
  if (Number(m[5]) < 8)
    throw new ConfigError(key, `"${v}" opens /admin to too much of the internet`);
  return v;
}

function registrarConfig(
  r: Reader,
  secrets: RawSecrets,
  ctx: { prod: boolean; domain: string; deployed: boolean; imageRef: RegExp },
): RegistrarServiceConfig {
  const o = r.object("atplatform:registrar");
  const smtpHost = o.has("smtpHost")
    ? o.string("smtpHost", undefined, /^(?=.{1,253}$)[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/)
    : undefined;
  if (ctx.prod && ctx.deployed && smtpHost === undefined)
    throw new ConfigError(
      "atplatform:registrar.smtpHost",
      "is required in prod (one-time codes are sent by e-mail)",
    );
  let smtp: RegistrarSmtpConfig | undefined;
  if (smtpHost !== undefined) {
    const port = o.int("smtpPort", 587, { min: 1, max: 65535 });
    smtp = {
      host: smtpHost,
      port,
      secure: port === 465,
      user: o.has("smtpUser") ? o.string("smtpUser", undefined, /^[^\s'"]{1,256}$/) : undefined,
      from: o.string(
        "smtpFrom",
        `atPlatform registrar <no-reply@${ctx.domain}>`,
        /^[^\r\n]{0,200}[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}>?$/,
      ),
      password: secretText(secrets, "atplatform:registrarSmtpPassword", 1),
    };
  } else {
    for (const f of ["smtpPort", "smtpUser", "smtpFrom"])
      if (o.has(f)) throw new ConfigError(`atplatform:registrar.${f}`, "needs smtpHost");
    if (secrets["atplatform:registrarSmtpPassword"] !== undefined)
      throw new ConfigError("atplatform:registrarSmtpPassword", "needs registrar.smtpHost");
  }
  const mode = r.oneOf(
    "atplatform:registrarTls",
    ["private-ca", "provided"] as const,
    ctx.prod ? "provided" : "private-ca",
  );
  const tls: RootTlsConfig =
    mode === "provided"
      ? {
          mode,
          certPem: pem(secrets, "atplatform:registrarTlsCert", "CERTIFICATE", "registrarTls"),
          keyPem: pem(secrets, "atplatform:registrarTlsKey", "PRIVATE KEY", "registrarTls"),
        }
      : { mode };
  return {
    // Like the directory's: a given image wins over a built one.
    image: o.has("image") ? o.string("image", undefined, ctx.imageRef) : undefined,
    storageGb: o.int("storageGb", 10, { min: 10, max: 1024 }),
    cpu: o.string("cpu", "250m", /^\d+m?$/),
    memory: o.string("memory", "512Mi", /^\d+(Mi|Gi)$/),
    smtp,
    adminCidrs: r.list("atplatform:registrarAdminCidrs", adminCidr, []),
    // The registrar refuses keys shorter than 16 characters.
    apiKey: secretText(secrets, "atplatform:registrarApiKey", 16),
    adminKey: secretText(secrets, "atplatform:registrarAdminKey", 16),
    tls,
  };
}

/** An optional secret string of at least `min` characters, kept secret. */
function secretText(
  secrets: RawSecrets,
  key: string,
  min: number,
): pulumi.Output<string> | undefined {
  const v = secrets[key];
  if (v === undefined) return undefined;
  return pulumi.secret(
    v.apply((text) => {
      if (text.length < min || /\s/.test(text))
        throw new ConfigError(key, `must be at least ${min} characters without whitespace`);
      return text;
    }),
  );
}

function pem(
  secrets: RawSecrets,
  key: string,
  label: string,
  modeKey: string,
): pulumi.Output<string> {
  const v = secrets[key];
  if (v === undefined)
    throw new ConfigError(key, `is required (set it with --secret) when ${modeKey} is provided`);
  return pulumi.secret(
    v.apply((text) => {
      if (!text.includes(`-----BEGIN `) || !text.includes(`${label}-----`))
        throw new ConfigError(key, `is not a PEM ${label}`);
      return text;
    }),
  );
}

const CLUSTER_FIELDS = [
  "machineType",
  "minNodesPerZone",
  "maxNodesPerZone",
  "releaseChannel",
  "masterCidr",
];
const OBJECT_FIELDS: Record<string, string[]> = {
  directoryCluster: CLUSTER_FIELDS,
  registrarCluster: CLUSTER_FIELDS,
  redis: ["memorySizeGb", "replicaCount", "version", "maintenanceDay", "maintenanceHour"],
  directory: ["image", "minReplicas", "maxReplicas", "cpu", "memory"],
  registrar: [
    "image",
    "storageGb",
    "cpu",
    "memory",
    "smtpHost",
    "smtpPort",
    "smtpUser",
    "smtpFrom",
  ],
  filestore: ["tier", "capacityGb", "backupKeepDays"],
  swarms: [
    "name",
    "ports",
    "managerMachineType",
    "workerMachineType",
    "minWorkers",
    "maxWorkers",
    "engineHost",
  ],
  swarmNodeImage: ["image", "aptSnapshot", "opsAgentVersion"],
  alerting: ["emails", "certificateWarningDays"],
};
