// A swarm's identities and secrets: service accounts for managers and workers, the empty
// join-token secrets (filled only by manager 0's startup script), the Docker Engine API's
// own CA with a server certificate for the managers and a client certificate for the
// registrar, and the wildcard certificate for the swarm's atServers.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { LeafCertificate, PrivateCa } from "./private-ca";

export interface SwarmSecretsArgs {
  project: string;
  /** <swarm>.<domain> */
  swarmDomain: string;
  /** Addresses the Docker API is reached at (managers' IPs and the internal LB's). */
  dockerIps: pulumi.Input<string>[];
  /** Wildcard certificate: signed by this CA, or (undefined) issued by ACME on the swarm. */
  wildcardCa?: PrivateCa;
  /** Protect the join-token secrets (the swarm's only copy) from deletion (prod). */
  protect: boolean;
  /** Images every node pre-pulls, as `<host>/<path>@sha256:<hex>`. */
  images: pulumi.Input<string>[];
  labels: Record<string, string>;
}

const VM_ROLES = ["roles/logging.logWriter", "roles/monitoring.metricWriter"];

export class SwarmSecrets extends pulumi.ComponentResource {
  readonly managerAccount: gcp.serviceaccount.Account;
  readonly workerAccount: gcp.serviceaccount.Account;
  readonly dockerSecretPrefix: string;
  readonly tlsSecretPrefix: string;
  /** For the registrar: Docker API CA, client certificate and key (secret). */
  readonly dockerCaPem: pulumi.Output<string>;
  readonly clientCertPem: pulumi.Output<string>;
  readonly clientKeyPem: pulumi.Output<string>;
  /** The Docker API's CA (the stack's second step issues its own client certificate). */
  readonly dockerCa: PrivateCa;
  /** The wildcard pair the stack issues (private-ca mode); undefined with ACME. */
  readonly wildcard?: LeafCertificate;
  /** Secret Manager secrets the wildcard certificate lives in. */
  readonly tlsSecrets: gcp.secretmanager.Secret[];
  /** Secret Manager id of the pinned image list the nodes pre-pull. */
  readonly imagesSecretId: string;
  /**
   * What the VMs' first boot reads: secret versions and the IAM bindings that let the VMs
   * read or write them. The instance groups wait for these.
   */
  readonly bootstrap: pulumi.Resource[] = [];

  constructor(name: string, args: SwarmSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:swarm:SwarmSecrets", name, {}, opts);
    const parent = { parent: this };
    this.dockerSecretPrefix = `${name}-docker`;
    this.tlsSecretPrefix = `${name}-tls`;
    this.imagesSecretId = `${name}-images`;

    this.managerAccount = new gcp.serviceaccount.Account(
      `${name}-managers`,
      { accountId: `${name}-managers`, displayName: `${name} swarm managers` },
      parent,
    );
    this.workerAccount = new gcp.serviceaccount.Account(
      `${name}-workers`,
      { accountId: `${name}-workers`, displayName: `${name} swarm workers` },
      parent,
    );
    for (const [who, sa] of [
      ["managers", this.managerAccount],
      ["workers", this.workerAccount],
    ] as const) {
      for (const role of VM_ROLES)
        new gcp.projects.IAMMember(
          `${name}-${who}-${role.split("/")[1]}`,
          { project: args.project, role, member: sa.member },
          parent,
        );
    }

    const secret = (id: string, protect = false) =>
      new gcp.secretmanager.Secret(
        id,
        { secretId: id, replication: { auto: {} }, labels: { ...args.labels, swarm: name } },
        { parent: this, protect },
      );

    // Join tokens: created empty; only the managers' startup script adds versions.
    const managerToken = secret(`${name}-manager-token`, args.protect);
    const workerToken = secret(`${name}-worker-token`, args.protect);
    const writer = ["roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionAdder"];
    this.iam(`${name}-manager-token`, managerToken, "managers", writer);
    this.iam(`${name}-worker-token`, workerToken, "managers", writer);
    this.iam(`${name}-worker-token`, workerToken, "workers", [
      "roles/secretmanager.secretAccessor",
    ]);

    // Docker Engine API: mutual TLS with a CA of this swarm alone.
    const ca = new PrivateCa(`${name}-docker-ca`, { commonName: `${name} Docker API CA` }, parent);
    const server = new LeafCertificate(
      `${name}-docker-server`,
      {
        ca,
        commonName: `docker.${args.swarmDomain}`,
        // localhost: the operator's IAP tunnel to a manager (the second step of `up`).
        dnsNames: [`docker.${args.swarmDomain}`, "localhost"],
        ipAddresses: [...args.dockerIps, "127.0.0.1"],
        usage: "server",
      },
      parent,
    );
    const client = new LeafCertificate(
      `${name}-registrar-client`,
      { ca, commonName: "registrar", usage: "client" },
      parent,
    );
    const dockerFiles: [string, pulumi.Output<string>][] = [
      ["ca", ca.certPem],
      ["cert", server.chainPem],
      ["key", server.keyPem],
    ];
    for (const [suffix, value] of dockerFiles) {
      const s = secret(`${this.dockerSecretPrefix}-${suffix}`);
      this.bootstrap.push(
        new gcp.secretmanager.SecretVersion(
          `${this.dockerSecretPrefix}-${suffix}`,
          { secret: s.id, secretData: pulumi.secret(value) },
          parent,
        ),
      );
      this.iam(`${this.dockerSecretPrefix}-${suffix}`, s, "managers", [
        "roles/secretmanager.secretAccessor",
      ]);
    }
    this.dockerCa = ca;
    this.dockerCaPem = ca.certPem;
    this.clientCertPem = client.certPem;
    this.clientKeyPem = client.keyPem;
    // The registrar's client credentials are kept in Secret Manager too (the source of
    // truth for rotation; the registrar cluster's Kubernetes Secret is a copy). No VM of the
    // swarm may read them.
    const clientFiles: [string, pulumi.Output<string>][] = [
      ["cert", client.certPem],
      ["key", client.keyPem],
    ];
    for (const [suffix, value] of clientFiles) {
      const id = `${name}-registrar-client-${suffix}`;
      const s = secret(id);
      new gcp.secretmanager.SecretVersion(
        id,
        { secret: s.id, secretData: pulumi.secret(value) },
        parent,
      );
    }

    // The atServers' wildcard certificate (*.<swarm>.<domain>), read by manager 0.
    const tlsCert = secret(`${this.tlsSecretPrefix}-cert`);
    const tlsKey = secret(`${this.tlsSecretPrefix}-key`);
    this.tlsSecrets = [tlsCert, tlsKey];
    const tlsRoles = args.wildcardCa
      ? ["roles/secretmanager.secretAccessor"]
      : ["roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionAdder"];
    this.iam(`${this.tlsSecretPrefix}-cert`, tlsCert, "managers", tlsRoles);
    this.iam(`${this.tlsSecretPrefix}-key`, tlsKey, "managers", tlsRoles);
    if (args.wildcardCa) {
      // 90 days, re-issued by any `pulumi up` in its last 30 days (earlyRenewalHours).
      const wildcard = new LeafCertificate(
        `${name}-wildcard`,
        {
          ca: args.wildcardCa,
          commonName: `*.${args.swarmDomain}`,
          dnsNames: [`*.${args.swarmDomain}`, args.swarmDomain],
          usage: "server+client",
          validityHours: 24 * 90,
        },
        parent,
      );
      this.wildcard = wildcard;
      this.bootstrap.push(
        new gcp.secretmanager.SecretVersion(
          `${this.tlsSecretPrefix}-cert`,
          { secret: tlsCert.id, secretData: wildcard.chainPem },
          parent,
        ),
        new gcp.secretmanager.SecretVersion(
          `${this.tlsSecretPrefix}-key`,
          { secret: tlsKey.id, secretData: pulumi.secret(wildcard.keyPem) },
          parent,
        ),
      );
    }

    // The pinned images every node pre-pulls (scripts/swarm-node.sh, pull_images).
    const images = secret(this.imagesSecretId);
    this.bootstrap.push(
      new gcp.secretmanager.SecretVersion(
        this.imagesSecretId,
        {
          secret: images.id,
          secretData: pulumi.all(args.images).apply((refs) => refs.join("\n")),
        },
        parent,
      ),
    );
    for (const who of ["managers", "workers"] as const)
      this.iam(this.imagesSecretId, images, who, ["roles/secretmanager.secretAccessor"]);

    this.registerOutputs({ manager: this.managerAccount.email, worker: this.workerAccount.email });
  }

  /** Grants `roles` on one secret to the managers' or workers' service account. */
  private iam(
    id: string,
    s: gcp.secretmanager.Secret,
    who: "managers" | "workers",
    roles: string[],
  ): void {
    const account = who === "managers" ? this.managerAccount : this.workerAccount;
    for (const role of roles) {
      this.bootstrap.push(
        new gcp.secretmanager.SecretIamMember(
          `${id}-${who}-${role.split(".").pop()}`,
          { secretId: s.id, role, member: account.member },
          { parent: this },
        ),
      );
    }
  }
}
