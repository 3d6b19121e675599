// Filestore: the NFS share every swarm VM mounts for atServer storage, exported read-write
// to the swarm subnet only. Backups: a daily job on the backup-owner swarm's manager 0
// (see scripts/swarm-node.sh backup_storage), whose service account gets backup rights here.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { FilestoreConfig } from "./config";

export const SHARE_NAME = "atservers";

export interface NfsShareArgs {
  project: string;
  region: string;
  zones: string[];
  network: pulumi.Input<string>;
  reservedRange: pulumi.Input<string>;
  serviceConnection: pulumi.Resource;
  /** The only clients (the swarm subnet). */
  clientRanges: string[];
  settings: FilestoreConfig;
  deletionProtection: boolean;
  labels: Record<string, string>;
}

const ZONAL_TIERS = ["BASIC_HDD", "BASIC_SSD", "ZONAL"];

export class NfsShare extends pulumi.ComponentResource {
  readonly instance: gcp.filestore.Instance;
  /** Mount address (first IP of the instance). */
  readonly server: pulumi.Output<string>;
  readonly share = SHARE_NAME;
  /** Zone (zonal tiers) or region the instance lives in. */
  readonly location: string;

  constructor(name: string, args: NfsShareArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:storage:NfsShare", name, {}, opts);
    this.location = ZONAL_TIERS.includes(args.settings.tier) ? args.zones[0]! : args.region;
    this.instance = new gcp.filestore.Instance(
      name,
      {
        location: this.location,
        tier: args.settings.tier,
        fileShares: {
          name: SHARE_NAME,
          capacityGb: args.settings.capacityGb,
          nfsExportOptions: [
            {
              ipRanges: args.clientRanges,
              accessMode: "READ_WRITE",
              // VMs create the per-atSign directories as root and hand them to uid 1024.
              squashMode: "NO_ROOT_SQUASH",
            },
          ],
        },
        networks: [
          {
            network: args.network,
            modes: ["MODE_IPV4"],
            connectMode: "PRIVATE_SERVICE_ACCESS",
            reservedIpRange: args.reservedRange,
          },
        ],
        deletionProtectionEnabled: args.deletionProtection,
        deletionProtectionReason: args.deletionProtection
          ? "atServer storage of every atSign"
          : undefined,
        labels: args.labels,
      },
      {
        parent: this,
        dependsOn: [args.serviceConnection],
        customTimeouts: { create: "60m", update: "60m", delete: "60m" },
      },
    );
    this.server = this.instance.networks.apply((n) => n[0]?.ipAddresses?.[0] ?? "");
    this.registerOutputs({ server: this.server });
  }

  /** Lets `member` create, list and delete backups (and nothing else: not the instance). */
  grantBackups(name: string, project: string, member: pulumi.Input<string>): void {
    const role = new gcp.projects.IAMCustomRole(
      `${name}-backup-role`,
      {
        project,
        roleId: "atplatformFilestoreBackup",
        title: "atplatform Filestore backup job",
        permissions: [
          "file.backups.create",
          "file.backups.delete",
          "file.backups.get",
          "file.backups.list",
          "file.instances.get",
          "file.operations.get",
        ],
      },
      { parent: this },
    );
    new gcp.projects.IAMMember(
      `${name}-backup`,
      { project, role: role.name, member },
      { parent: this },
    );
  }
}
