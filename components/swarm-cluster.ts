// One Docker Swarm for atServers: three managers (one per zone, pinned names, IPs and boot
// disks through a stateful regional MIG) and autoscaled, auto-healed workers, all without
// public IPs and started by the rendered scripts/swarm-node.sh. Secrets, load balancers,
// DNS and firewall come from SwarmSecrets and SwarmNetwork; the registrar's cluster gets
// the Docker endpoint and client certificate as a Kubernetes Secret.
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmConfig, SwarmNodeImageConfig, SwarmTlsConfig } from "./config";
import type { PrivateCa } from "./private-ca";
import { DOCKER_API_PORT, SwarmNetwork } from "./swarm-network";
import { SwarmEngine } from "./swarm-engine";
import { SwarmNodes } from "./swarm-nodes";
import { renderSwarmScript, STORAGE_MOUNT, type SwarmScriptVars } from "./swarm-script";
import { SwarmSecrets } from "./swarm-secrets";
import { MANAGER_COUNT } from "./swarm-nodes";

export interface SwarmClusterArgs {
  project: string;
  region: string;
  zones: string[];
  network: pulumi.Input<string>;
  subnet: gcp.compute.Subnetwork;
  domain: string;
  zoneName: pulumi.Input<string>;
  settings: SwarmConfig;
  /** What the VMs boot and where their packages come from. */
  nodeImage: SwarmNodeImageConfig;
  nfs: { server: pulumi.Input<string>; share: string };
  tls: SwarmTlsConfig;
  /** Signs the wildcard certificate in private-ca mode. */
  wildcardCa?: PrivateCa;
  /** ACME mode: lets the managers answer DNS-01 challenges in the platform zone. */
  acmeDnsListRole?: pulumi.Input<string>;
  registrar: { provider: k8s.Provider; namespace: pulumi.Input<string>; sourceRanges: string[] };
  /** Repository the VMs pull images from. */
  registry: gcp.artifactregistry.Repository;
  /** Images the nodes pre-pull (the atServer image, which also runs the storage jobs). */
  images: pulumi.Input<string>[];
  /** What the VMs need before their first boot besides their own secrets (Cloud NAT). */
  bootDependencies: pulumi.Resource[];
  /** Let `pulumi destroy` remove the swarm's own DNS zone with its records (dev). */
  dnsForceDestroy: boolean;
  /** Protect the public address, the swarm's zone and its join tokens from deletion (prod). */
  protect: boolean;
  /** Set on the swarm whose manager 0 runs the Filestore backup job. */
  backup?: { instance: pulumi.Input<string>; location: string; keepDays: number };
  labels: Record<string, string>;
}

export class SwarmCluster extends pulumi.ComponentResource {
  readonly managers: gcp.compute.RegionInstanceGroupManager;
  readonly workers: gcp.compute.RegionInstanceGroupManager;
  readonly managerAccount: gcp.serviceaccount.Account;
  readonly dockerHost: pulumi.Output<string>;
  /** `<internal LB IP>:2376`, the registrar's Engine API endpoint. */
  readonly engine: pulumi.Output<string>;
  readonly publicIp: pulumi.Output<string>;
  readonly swarmDomain: string;

  constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:swarm:SwarmCluster", name, {}, opts);
    if (args.zones.length < MANAGER_COUNT)
      throw new pulumi.ResourceError(`${name}: three zones are needed for three managers`, this);
    const parent = { parent: this };
    const s = args.settings;
    this.swarmDomain = `${name}.${args.domain}`;
    const managerTag = `atp-swarm-${name}-manager`;
    const workerTag = `atp-swarm-${name}-worker`;
    const labels = { ...args.labels, swarm: name };

    const internal = (n: string) =>
      new gcp.compute.Address(
        n,
        { region: args.region, subnetwork: args.subnet.id, addressType: "INTERNAL", labels },
        parent,
      );
    const managerAddresses = [...Array(MANAGER_COUNT).keys()].map((i) =>
      internal(`${name}-mgr-${i}`),
    );
    const dockerAddress = internal(`${name}-docker`);
    const publicAddress = new gcp.compute.Address(
      `${name}-lb-ip`,
      { region: args.region, addressType: "EXTERNAL", networkTier: "PREMIUM", labels },
      { parent: this, protect: args.protect },
    );
    this.publicIp = publicAddress.address;

    const secrets = new SwarmSecrets(
      name,
      {
        project: args.project,
        swarmDomain: this.swarmDomain,
        dockerIps: [...managerAddresses.map((a) => a.address), dockerAddress.address],
        wildcardCa: args.tls.mode === "private-ca" ? args.wildcardCa : undefined,
        images: args.images.map((i) => pulumi.output(i).apply(byDigest)),
        protect: args.protect,
        labels,
      },
      parent,
    );
    const bootstrap: pulumi.Resource[] = [...secrets.bootstrap, ...args.bootDependencies];
    this.managerAccount = secrets.managerAccount;
    for (const [who, sa] of [
      ["managers", secrets.managerAccount],
      ["workers", secrets.workerAccount],
    ] as const) {
      const pull = new gcp.artifactregistry.RepositoryIamMember(
        `${name}-${who}-pull`,
        {
          repository: args.registry.name,
          location: args.region,
          role: "roles/artifactregistry.reader",
          member: sa.member,
        },
        parent,
      );
      bootstrap.push(pull);
    }
    // The swarm's names live in a zone of their own (<swarm>.<domain>., delegated from the
    // platform zone): the managers may answer ACME challenges there, and nothing they hold
    // can change root.<domain>, registrar.<domain> or another swarm's names.
    const swarmZone = new gcp.dns.ManagedZone(
      `${name}-zone`,
      {
        dnsName: `${this.swarmDomain}.`,
        description: `atplatform swarm ${this.swarmDomain}`,
        visibility: "public",
        forceDestroy: args.dnsForceDestroy,
        labels,
      },
      { parent: this, protect: args.protect },
    );
    new gcp.dns.RecordSet(
      `${name}-delegation`,
      {
        managedZone: args.zoneName,
        name: `${this.swarmDomain}.`,
        type: "NS",
        ttl: 300,
        rrdatas: swarmZone.nameServers,
      },
      parent,
    );
    if (args.tls.mode === "acme") {
      new gcp.dns.DnsManagedZoneIamMember(
        `${name}-acme-dns`,
        {
          managedZone: swarmZone.name,
          role: "roles/dns.admin",
          member: secrets.managerAccount.member,
        },
        parent,
      );
      if (args.acmeDnsListRole)
        new gcp.projects.IAMMember(
          `${name}-acme-dns-list`,
          {
            project: args.project,
            role: args.acmeDnsListRole,
            member: secrets.managerAccount.member,
          },
          parent,
        );
    }

    const script = (role: "manager" | "worker") =>
      pulumi
        .all([
          pulumi.output(managerAddresses.map((a) => a.address)),
          args.nfs.server,
          args.backup?.instance ?? "",
        ])
        .apply(([ips, server, backupInstance]) => {
          const vars: SwarmScriptVars = {
            swarm: name,
            role,
            project: args.project,
            region: args.region,
            swarmDomain: this.swarmDomain,
            managerIps: ips,
            nfsServer: server,
            nfsShare: args.nfs.share,
            dockerSecretPrefix: secrets.dockerSecretPrefix,
            tlsSecretPrefix: secrets.tlsSecretPrefix,
            tlsMode: args.tls.mode,
            imagesSecret: secrets.imagesSecretId,
            aptSnapshot: args.nodeImage.aptSnapshot,
            opsAgentVersion: args.nodeImage.opsAgentVersion,
            acmeEmail: args.tls.mode === "acme" ? args.tls.email : undefined,
            acmeServer: args.tls.mode === "acme" ? args.tls.directoryUrl : undefined,
            backup:
              role === "manager" && args.backup
                ? {
                    instance: backupInstance,
                    location: args.backup.location,
                    keepDays: args.backup.keepDays,
                  }
                : undefined,
          };
          return renderSwarmScript(vars);
        });

    const nodes = new SwarmNodes(
      name,
      {
        region: args.region,
        zones: args.zones,
        subnet: args.subnet.id,
        settings: s,
        managerAddresses,
        managerTag,
        workerTag,
        managerAccount: secrets.managerAccount,
        workerAccount: secrets.workerAccount,
        managerScript: script("manager"),
        workerScript: script("worker"),
        labels,
        sourceImage: args.nodeImage.image,
        // The first boot reads secrets, pulls images and installs packages through NAT: the
        // VMs start only once all of that is in place.
        bootstrap,
      },
      parent,
    );
    this.managers = nodes.managers;
    this.workers = nodes.workers;
    // The second step of `up`: the swarm's own objects, through its Docker API.
    if (s.engineHost)
      new SwarmEngine(
        name,
        {
          host: s.engineHost,
          dockerCa: secrets.dockerCa,
          wildcard: secrets.wildcard
            ? { chainPem: secrets.wildcard.chainPem, keyPem: secrets.wildcard.keyPem }
            : undefined,
        },
        { parent: this, dependsOn: [this.managers] },
      );

    const net = new SwarmNetwork(
      name,
      {
        region: args.region,
        network: args.network,
        subnet: args.subnet.id,
        managerTag,
        workerTag,
        managerGroup: this.managers.instanceGroup,
        workerGroup: this.workers.instanceGroup,
        dockerAddress,
        publicAddress,
        firstPort: s.firstPort,
        lastPort: s.lastPort,
        registrarRanges: args.registrar.sourceRanges,
        zoneName: swarmZone.name,
        swarmDomain: this.swarmDomain,
      },
      parent,
    );
    this.dockerHost = net.dockerHost;
    this.engine = pulumi.interpolate`${dockerAddress.address}:${DOCKER_API_PORT}`;

    // Everything the registrar's Swarm orchestrator needs to drive this swarm.
    new k8s.core.v1.Secret(
      `${name}-registrar`,
      {
        metadata: {
          namespace: args.registrar.namespace,
          name: `swarm-${name}`,
          labels: { "atplatform.io/swarm": name },
        },
        type: "Opaque",
        stringData: {
          DOCKER_HOST: this.dockerHost,
          "ca.pem": secrets.dockerCaPem,
          "cert.pem": secrets.clientCertPem,
          "key.pem": pulumi.secret(secrets.clientKeyPem),
          domain: this.swarmDomain,
          ports: `${s.firstPort}-${s.lastPort}`,
          storage: `${STORAGE_MOUNT}/atservers`,
          // The peer CA atServers trust when the swarms' certificates come from our private CA.
          ...(args.tls.mode === "private-ca" && args.wildcardCa
            ? { "atserver-ca.pem": args.wildcardCa.certPem }
            : {}),
        },
      },
      { parent: this, provider: args.registrar.provider },
    );

    this.registerOutputs({ dockerHost: this.dockerHost, publicIp: this.publicIp });
  }
}

/** `<repo>[:tag]@sha256:<hex>` → `<repo>@sha256:<hex>`: what the nodes pull and list. */
export function byDigest(ref: string): string {
  const m = /^(.+?)(:[\w.-]+)?@(sha256:[a-f0-9]{64})$/.exec(ref);
  if (!m || m[1]!.includes("@")) throw new Error(`swarm image ${ref} is not pinned by digest`);
  return `${m[1]}@${m[3]}`;
}
