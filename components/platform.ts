// The whole stack as one function of typed config, so tests can build it for any config.
import * as pulumi from "@pulumi/pulumi";
import { AlertPolicies } from "./alert-policies";
import { alertRules, DIRECTORY_JOB, REGISTRAR_JOB } from "./alert-rules";
import type { PlatformConfig } from "./config";
import { Dashboards } from "./dashboards";
import { DirectoryFirewall } from "./directory-firewall";
import {
  DIRECTORY_CONTAINER_PORT,
  DIRECTORY_HTTP_PORT,
  DIRECTORY_PORT,
  DirectoryService,
} from "./directory-service";
import { DirectoryStore } from "./directory-store";
import { DnsZone } from "./dns-zone";
import { AdmissionPolicy } from "./admission-policy";
import { GkeCluster } from "./gke-cluster";
import { ImagePins } from "./image-pins";
import { ImageRegistry } from "./image-registry";
import * as gcp from "@pulumi/gcp";
import { ADDRESS_PLAN, GOOGLE_HEALTH_CHECK_RANGES, Network, NODE_TAGS } from "./network";
import { MetricsScrape } from "./metrics-scrape";
import { NamespacePolicies, PRIVATE_RANGES } from "./network-policies";
import { NfsShare } from "./nfs-share";
import { NotificationChannels } from "./notification-channels";
import { LeafCertificate, PrivateCa } from "./private-ca";
import { PreviewRole } from "./preview-role";
import { ProjectServices } from "./project-services";
import { RegistrarAccess } from "./registrar-access";
import { REGISTRAR_HTTP_PORT, REGISTRAR_METRICS_PORT, RegistrarService } from "./registrar-service";
import { RegistrarSwarms } from "./registrar-swarms";
import { SECRETS_KEY_ROTATION_DAYS, SecretsKey } from "./secrets-key";
import { ServiceImage } from "./service-image";
import { SwarmCluster } from "./swarm-cluster";
import { DOCKER_API_PORT } from "./swarm-network";
import { STORAGE_MOUNT } from "./swarm-script";

export interface PlatformOutputs {
  /** `root.<domain>:64`, what clients configure as their root. */
  rootAddress: string;
  rootIp: pulumi.Output<string>;
  dnsNameServers: pulumi.Output<string[]>;
  clusterName: pulumi.Output<string>;
  registrarClusterName: pulumi.Output<string>;
  redisPrimaryEndpoint: pulumi.Output<string>;
  redisReadEndpoint: pulumi.Output<string>;
  redisCa: pulumi.Output<string>;
  registryUrl: pulumi.Output<string>;
  /** The dev private CA that signs root.<domain> (clients must trust it); undefined in prod. */
  rootCaPem: pulumi.Output<string> | undefined;
  /** Filestore mount address and share. */
  nfsServer: pulumi.Output<string>;
  /** Per swarm: its domain, public IP (atServer ports) and Docker endpoint (internal). */
  swarms: Record<
    string,
    { domain: string; publicIp: pulumi.Output<string>; dockerHost: pulumi.Output<string> }
  >;
  /** The registrar's pages and APIs (HTTPS); undefined without swarms (no registrar then). */
  registrar:
    | {
        url: string;
        ip: pulumi.Output<string>;
        /** Onboarding API key and admin key: secret outputs (given in config or generated). */
        apiKey: pulumi.Output<string>;
        adminKey: pulumi.Output<string>;
        /** The dev private CA that signs registrar.<domain>; undefined when provided. */
        caPem: pulumi.Output<string> | undefined;
      }
    | undefined;
  /** Images the stack built (`buildImages`), by service: `<registry>/<svc>:<tag>@sha256:…`. */
  images: Partial<Record<"directory" | "atserver" | "registrar", pulumi.Output<string>>>;
  /** The private CA of the swarms' wildcard certificates (private-ca mode); undefined otherwise. */
  atServerCaPem: pulumi.Output<string> | undefined;
  /** The custom role the CI preview identity gets instead of container.developer. */
  previewRole: pulumi.Output<string>;
}

export function createPlatform(cfg: PlatformConfig): PlatformOutputs {
  const labels = { app: "atplatform", env: cfg.env };
  const apis = new ProjectServices("apis", { project: cfg.project });
  const after = { dependsOn: [apis] };

  const net = new Network("atplatform", { region: cfg.region }, after);
  const zone = new DnsZone(
    "platform",
    {
      domain: cfg.domain,
      labels,
      forceDestroy: cfg.env === "dev",
      protect: cfg.deletionProtection,
    },
    after,
  );

  // Configured images (overrides of the built ones), each pinned to its registry digest.
  const given = pinConfiguredImages(cfg);
  const registryName = "atplatform";
  const secretsKey = new SecretsKey(
    "k8s-secrets",
    {
      project: cfg.project,
      region: cfg.region,
      rotationDays: SECRETS_KEY_ROTATION_DAYS,
      labels,
      protect: cfg.deletionProtection,
    },
    after,
  );
  const admission = new AdmissionPolicy(
    "admission",
    {
      project: cfg.project,
      registryUrl: `${cfg.region}-docker.pkg.dev/${cfg.project}/${registryName}`,
      extraImages: [cfg.directory.image, cfg.registrar.image].filter(
        (i): i is string => i !== undefined,
      ),
    },
    after,
  );
  const gkeCommon = {
    secretsKey: { keyId: secretsKey.keyId, grant: secretsKey.grant },
    admissionPolicy: admission,
    project: cfg.project,
    region: cfg.region,
    zones: cfg.zones,
    network: net.vpc.id,
    authorizedNetworks: cfg.authorizedNetworks,
    deletionProtection: cfg.deletionProtection,
    labels,
  };
  const directoryCluster = new GkeCluster(
    "directory",
    {
      ...gkeCommon,
      subnet: net.directorySubnet,
      sizing: cfg.directoryCluster,
      nodeTag: NODE_TAGS.directory,
    },
    after,
  );
  // The registrar's own, smaller cluster: it alone holds the Redis primary's credentials
  // and (issue 7) the swarms' Docker client certificates.
  const registrarCluster = new GkeCluster(
    "registrar",
    {
      ...gkeCommon,
      subnet: net.registrarSubnet,
      sizing: cfg.registrarCluster,
      nodeTag: NODE_TAGS.registrar,
    },
    after,
  );

  const registry = new ImageRegistry(
    registryName,
    {
      region: cfg.region,
      readers: [
        directoryCluster.nodeServiceAccount.member,
        registrarCluster.nodeServiceAccount.member,
      ],
      labels,
      immutableTags: cfg.env === "prod",
      protect: cfg.deletionProtection,
    },
    after,
  );

  // Images: built and pushed by the stack (the default), except those given by reference.
  const images: PlatformOutputs["images"] = {};
  if (cfg.buildImages) {
    for (const service of ["directory", "atserver", "registrar"] as const) {
      if (given[service] !== undefined) continue;
      images[service] = new ServiceImage(
        `${service}-image`,
        {
          service,
          region: cfg.region,
          registryUrl: registry.url,
          cacheUrl: registry.cacheUrl,
          tag: cfg.imageTag,
        },
        { dependsOn: [registry] },
      ).ref;
    }
  }
  const directoryImage = given.directory ?? images.directory;
  if (!directoryImage)
    throw new Error("no directory image: set atplatform:directory.image or buildImages");

  const store = new DirectoryStore(
    "directory",
    {
      region: cfg.region,
      zones: cfg.zones,
      network: net.vpc.id,
      reservedRange: net.serviceRange.name,
      serviceConnection: net.serviceConnection,
      sizing: cfg.redis,
      deletionProtection: cfg.deletionProtection,
      labels,
    },
    after,
  );

  new DirectoryFirewall(
    "directory",
    { network: net.vpc.id, nodeTag: NODE_TAGS.directory, redisPrimaryHost: store.primary.host },
    after,
  );

  const rootName = `root.${cfg.domain}`;
  // The private CA of the dev names: root.<domain> and registrar.<domain> (private-ca modes).
  const withRegistrar = cfg.swarms.length > 0;
  const namesCa =
    cfg.rootTls.mode === "private-ca" || (withRegistrar && cfg.registrar.tls.mode === "private-ca")
      ? new PrivateCa("root-ca", { commonName: `atplatform ${cfg.env} root CA` })
      : undefined;
  let rootChain: pulumi.Output<string>;
  let rootKey: pulumi.Output<string>;
  let rootCaPem: pulumi.Output<string> | undefined;
  if (cfg.rootTls.mode === "private-ca") {
    const ca = namesCa!;
    const leaf = new LeafCertificate("root-tls", {
      ca,
      commonName: rootName,
      dnsNames: [rootName],
      usage: "server",
    });
    rootChain = leaf.chainPem;
    rootKey = leaf.keyPem;
    rootCaPem = ca.certPem;
  } else {
    rootChain = cfg.rootTls.certPem;
    rootKey = cfg.rootTls.keyPem;
  }

  const directory = new DirectoryService(
    "atdirectory",
    {
      provider: directoryCluster.provider,
      region: cfg.region,
      settings: cfg.directory,
      image: directoryImage,
      redisRead: store.read,
      redisAuth: store.authString,
      redisCa: store.serverCa,
      tlsChainPem: rootChain,
      tlsKeyPem: rootKey,
      zoneName: zone.zoneName,
      rootFqdn: `${rootName}.`,
      labels,
      protect: cfg.deletionProtection,
    },
    after,
  );

  new NamespacePolicies("atdirectory", {
    provider: directoryCluster.provider,
    namespace: directory.namespace,
    podLabels: { "app.kubernetes.io/name": "atdirectory" },
    // Clients through the passthrough NLB keep their addresses: the root port is world-open.
    ingress: [{ cidr: "0.0.0.0/0", ports: [{ protocol: "TCP", port: DIRECTORY_CONTAINER_PORT }] }],
    // A reader: the Redis read endpoint and nothing else.
    egress: [
      {
        cidr: pulumi.interpolate`${store.read.host}/32`,
        ports: [{ protocol: "TCP", port: store.read.port }],
      },
    ],
  });

  new MetricsScrape("atdirectory", {
    provider: directoryCluster.provider,
    namespace: directory.namespace,
    podLabels: { "app.kubernetes.io/name": "atdirectory" },
    portName: "http",
    port: DIRECTORY_HTTP_PORT,
    job: DIRECTORY_JOB,
  });

  const registrar = new RegistrarAccess("registrar", {
    provider: registrarCluster.provider,
    redisPrimary: store.primary,
    redisAuth: store.authString,
    redisCa: store.serverCa,
  });

  // The atServer tier: one Filestore share for every swarm, then each swarm.
  const nfs = new NfsShare(
    "atservers",
    {
      project: cfg.project,
      region: cfg.region,
      zones: cfg.zones,
      network: net.vpc.id,
      reservedRange: net.serviceRange.name,
      serviceConnection: net.serviceConnection,
      clientRanges: [ADDRESS_PLAN.swarm.nodes],
      settings: cfg.filestore,
      deletionProtection: cfg.deletionProtection,
      labels,
    },
    after,
  );
  const atServerCa =
    cfg.swarmTls.mode === "private-ca" && cfg.swarms.length > 0
      ? new PrivateCa("atserver-ca", { commonName: `atplatform ${cfg.env} atServer CA` })
      : undefined;
  const acmeDnsList =
    cfg.swarmTls.mode === "acme" && cfg.swarms.length > 0
      ? new gcp.projects.IAMCustomRole(
          "acme-dns-list",
          {
            project: cfg.project,
            roleId: "atplatformDnsZoneList",
            title: "atplatform ACME: find the DNS zone",
            permissions: ["dns.managedZones.list"],
          },
          after,
        ).name
      : undefined;
  const atServerImage = given.atserver ?? images.atserver;
  if (cfg.swarms.length > 0 && !atServerImage)
    throw new Error("no atServer image: set atplatform:atserverImage or buildImages");
  const swarms: PlatformOutputs["swarms"] = {};
  const swarmClusters: SwarmCluster[] = [];
  const registrarSwarms: ConstructorParameters<typeof RegistrarSwarms>[1]["swarms"] = [];
  cfg.swarms.forEach((settings, i) => {
    const backupOwner = i === 0 && cfg.filestore.backupKeepDays > 0;
    const swarm = new SwarmCluster(
      settings.name,
      {
        project: cfg.project,
        region: cfg.region,
        zones: cfg.zones,
        network: net.vpc.id,
        subnet: net.swarmSubnet,
        domain: cfg.domain,
        zoneName: zone.zoneName,
        settings,
        nodeImage: cfg.swarmNodeImage,
        nfs: { server: nfs.server, share: nfs.share },
        tls: cfg.swarmTls,
        wildcardCa: atServerCa,
        acmeDnsListRole: acmeDnsList,
        registrar: {
          provider: registrar.provider,
          namespace: registrar.namespace,
          sourceRanges: [ADDRESS_PLAN.registrar.nodes, ADDRESS_PLAN.registrar.pods],
        },
        registry: registry.repository,
        images: [atServerImage!],
        dnsForceDestroy: cfg.env === "dev",
        protect: cfg.deletionProtection,
        bootDependencies: [net.nat],
        backup: backupOwner
          ? {
              instance: nfs.instance.name,
              location: nfs.location,
              keepDays: cfg.filestore.backupKeepDays,
            }
          : undefined,
        labels,
      },
      after,
    );
    swarmClusters.push(swarm);
    if (backupOwner) nfs.grantBackups("atservers", cfg.project, swarm.managerAccount.member);
    registrarSwarms.push({
      name: settings.name,
      engine: swarm.engine,
      publicHost: swarm.swarmDomain,
      firstPort: settings.firstPort,
      lastPort: settings.lastPort,
      storageRoot: `${STORAGE_MOUNT}/atservers`,
      withAtServerCa: atServerCa !== undefined,
    });
    swarms[settings.name] = {
      domain: swarm.swarmDomain,
      publicIp: swarm.publicIp,
      dockerHost: swarm.dockerHost,
    };
  });

  let registrarOut: PlatformOutputs["registrar"];
  if (withRegistrar && atServerImage) {
    const swarmsFile = new RegistrarSwarms("registrar-swarms", {
      provider: registrar.provider,
      namespace: registrar.namespace,
      rootAddress: `${rootName}:${DIRECTORY_PORT}`,
      atServerImage,
      swarms: registrarSwarms,
    });
    new NamespacePolicies("registrar", {
      provider: registrar.provider,
      namespace: registrar.namespace,
      podLabels: { "app.kubernetes.io/name": "registrar" },
      // Only Google's front ends (the HTTPS load balancer and its health checks).
      ingress: GOOGLE_HEALTH_CHECK_RANGES.map((cidr) => ({
        cidr,
        ports: [{ protocol: "TCP" as const, port: REGISTRAR_HTTP_PORT }],
      })),
      egress: [
        {
          cidr: pulumi.interpolate`${store.primary.host}/32`,
          ports: [{ protocol: "TCP", port: store.primary.port }],
        },
        ...swarmClusters.map((sw) => ({
          cidr: sw.engine.apply((e) => `${e.split(":")[0]}/32`),
          ports: [{ protocol: "TCP" as const, port: DOCKER_API_PORT }],
        })),
        // The root (its public address) for lookups and activation checks.
        {
          cidr: pulumi.interpolate`${directory.ip}/32`,
          ports: [{ protocol: "TCP", port: DIRECTORY_PORT }],
        },
        // The mail relay, somewhere on the internet (never a private address).
        ...(cfg.registrar.smtp
          ? [
              {
                cidr: "0.0.0.0/0",
                except: PRIVATE_RANGES,
                ports: [{ protocol: "TCP" as const, port: cfg.registrar.smtp.port }],
              },
            ]
          : []),
      ],
    });
    new MetricsScrape("registrar", {
      provider: registrar.provider,
      namespace: registrar.namespace,
      podLabels: { "app.kubernetes.io/name": "registrar" },
      portName: "metrics",
      port: REGISTRAR_METRICS_PORT,
      job: REGISTRAR_JOB,
    });
    registrarOut = deployRegistrar(cfg, {
      access: registrar,
      swarmsFile,
      swarmClusters,
      image: given.registrar ?? images.registrar,
      namesCa,
      trustedCaPems: [
        store.serverCa,
        ...(rootCaPem ? [rootCaPem] : []),
        ...(atServerCa ? [atServerCa.certPem] : []),
      ],
      zoneName: zone.zoneName,
      rootAddress: `${rootName}:${DIRECTORY_PORT}`,
      labels,
    });
  }

  // Issue 15: alerts to the configured channels, and one dashboard per tier.
  const channels = new NotificationChannels(
    "alerts",
    { settings: cfg.alerting, env: cfg.env, labels },
    after,
  );
  new AlertPolicies(
    "alerts",
    {
      env: cfg.env,
      rules: alertRules({
        swarms: cfg.swarms.map((s) => s.name),
        directoryMinReplicas: cfg.directory.minReplicas,
        certificateWarningDays: cfg.alerting.certificateWarningDays,
      }),
      channels: channels.names,
      rootHost: rootName,
      rootPort: DIRECTORY_PORT,
      project: cfg.project,
      filestoreInstance: nfs.instance.name,
      labels,
    },
    after,
  );
  new Dashboards("dashboards", { env: cfg.env, filestoreInstance: nfs.instance.name }, after);

  return {
    rootAddress: `${rootName}:${DIRECTORY_PORT}`,
    rootIp: directory.ip,
    dnsNameServers: zone.nameServers,
    clusterName: directoryCluster.name,
    registrarClusterName: registrarCluster.name,
    redisPrimaryEndpoint: pulumi.interpolate`${store.primary.host}:${store.primary.port}`,
    redisReadEndpoint: pulumi.interpolate`${store.read.host}:${store.read.port}`,
    redisCa: store.serverCa,
    registryUrl: registry.url,
    rootCaPem,
    nfsServer: nfs.server,
    swarms,
    atServerCaPem: atServerCa?.certPem,
    registrar: registrarOut,
    images,
    previewRole: new PreviewRole("ci-preview", { project: cfg.project }, after).name,
  };
}

/** The configured image references, pinned by digest (a tag is resolved in its registry). */
function pinConfiguredImages(
  cfg: PlatformConfig,
): Partial<Record<"directory" | "atserver" | "registrar", pulumi.Output<string>>> {
  const refs = {
    directory: cfg.directory.image,
    atserver: cfg.atserverImage,
    registrar: cfg.registrar.image,
  };
  let pins: ImagePins | undefined;
  const out: ReturnType<typeof pinConfiguredImages> = {};
  for (const [service, ref] of Object.entries(refs) as [keyof typeof refs, string | undefined][]) {
    if (ref === undefined) continue;
    pins ??= new ImagePins("image-pins", { region: cfg.region });
    out[service] = pins.pin(ref);
  }
  return out;
}

/** Secret names RegistrarAccess and RegistrarSwarms give (a test checks the pod's references). */
const REDIS_PRIMARY_SECRET = "redis-primary";
const REGISTRAR_SWARMS_SECRET = "registrar-swarms";

/** The registrar workload in its cluster, after the Secrets it mounts exist. */
function deployRegistrar(
  cfg: PlatformConfig,
  p: {
    access: RegistrarAccess;
    swarmsFile: RegistrarSwarms;
    swarmClusters: SwarmCluster[];
    image: pulumi.Input<string> | undefined;
    namesCa: PrivateCa | undefined;
    trustedCaPems: pulumi.Input<string>[];
    zoneName: pulumi.Input<string>;
    rootAddress: string;
    labels: Record<string, string>;
  },
): NonNullable<PlatformOutputs["registrar"]> {
  if (!p.image)
    throw new Error("no registrar image: set atplatform:registrar.image or buildImages");
  const hostname = `registrar.${cfg.domain}`;
  const tls = cfg.registrar.tls;
  let chain: pulumi.Output<string>;
  let key: pulumi.Output<string>;
  if (tls.mode === "private-ca") {
    const leaf = new LeafCertificate("registrar-tls", {
      ca: p.namesCa!,
      commonName: hostname,
      dnsNames: [hostname],
      usage: "server",
    });
    chain = leaf.chainPem;
    key = leaf.keyPem;
  } else {
    chain = tls.certPem;
    key = tls.keyPem;
  }
  const service = new RegistrarService(
    "registrar",
    {
      provider: p.access.provider,
      namespace: p.access.namespace,
      settings: cfg.registrar,
      image: p.image,
      rootAddress: p.rootAddress,
      redisSecretName: REDIS_PRIMARY_SECRET,
      swarmsSecretName: REGISTRAR_SWARMS_SECRET,
      swarmsJson: p.swarmsFile.json,
      swarmNames: cfg.swarms.map((s) => s.name),
      trustedCaPems: p.trustedCaPems,
      tlsChainPem: chain,
      tlsKeyPem: key,
      zoneName: p.zoneName,
      hostname,
      retainDisk: cfg.deletionProtection,
      labels: p.labels,
    },
    { dependsOn: [p.access, p.swarmsFile, ...p.swarmClusters] },
  );
  return {
    url: service.url,
    ip: service.ip,
    apiKey: service.apiKey,
    adminKey: service.adminKey,
    caPem: tls.mode === "private-ca" ? p.namesCa!.certPem : undefined,
  };
}
