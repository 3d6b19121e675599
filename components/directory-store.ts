// The directory's data: Memorystore for Redis, Standard tier (a primary plus replicas in
// other zones), read replicas behind one read endpoint, AUTH and in-transit TLS,
// RDB snapshots, reached over private service access. The registrar is its only writer
// (primary endpoint); the atDirectory pods read through the read endpoint.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { RedisConfig } from "./config";

export interface DirectoryStoreArgs {
  region: string;
  zones: string[];
  network: pulumi.Input<string>;
  /** The private-service-access peering range's name and the connection to wait for. */
  reservedRange: pulumi.Input<string>;
  serviceConnection: pulumi.Resource;
  sizing: RedisConfig;
  deletionProtection: boolean;
  labels: Record<string, string>;
}

export interface RedisEndpoint {
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
}

export class DirectoryStore extends pulumi.ComponentResource {
  readonly instance: gcp.redis.Instance;
  /** Writer endpoint: only the registrar's cluster uses it. */
  readonly primary: RedisEndpoint;
  /** Load-balanced over the read replicas: what the atDirectory reads. */
  readonly read: RedisEndpoint;
  readonly authString: pulumi.Output<string>;
  /** PEM of the Memorystore server CA(s) that sign the TLS endpoints. */
  readonly serverCa: pulumi.Output<string>;

  constructor(name: string, args: DirectoryStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:directory:DirectoryStore", name, {}, opts);

    this.instance = new gcp.redis.Instance(
      name,
      {
        region: args.region,
        tier: "STANDARD_HA",
        memorySizeGb: args.sizing.memorySizeGb,
        redisVersion: args.sizing.version,
        locationId: args.zones[0],
        alternativeLocationId: args.zones[1],
        readReplicasMode: "READ_REPLICAS_ENABLED",
        replicaCount: args.sizing.replicaCount,
        authEnabled: true,
        transitEncryptionMode: "SERVER_AUTHENTICATION",
        connectMode: "PRIVATE_SERVICE_ACCESS",
        authorizedNetwork: args.network,
        reservedIpRange: args.reservedRange,
        persistenceConfig: { persistenceMode: "RDB", rdbSnapshotPeriod: "ONE_HOUR" },
        maintenancePolicy: {
          weeklyMaintenanceWindows: [
            {
              day: args.sizing.maintenanceDay,
              startTime: { hours: args.sizing.maintenanceHour, minutes: 0 },
            },
          ],
        },
        redisConfigs: { "maxmemory-policy": "noeviction" },
        deletionProtection: args.deletionProtection,
        labels: args.labels,
      },
      {
        parent: this,
        dependsOn: [args.serviceConnection],
        customTimeouts: { create: "60m", update: "60m", delete: "60m" },
      },
    );

    this.primary = { host: this.instance.host, port: this.instance.port };
    this.read = { host: this.instance.readEndpoint, port: this.instance.readEndpointPort };
    this.authString = pulumi.secret(this.instance.authString);
    this.serverCa = this.instance.serverCaCerts.apply((certs) =>
      (certs ?? []).map((c) => c.cert.trim()).join("\n"),
    );

    this.registerOutputs({
      primaryHost: this.primary.host,
      readHost: this.read.host,
      authString: this.authString,
    });
  }
}
