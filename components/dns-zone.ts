// The platform's public DNS zone (<domain>.), DNSSEC on. Its name servers are an output:
// the parent domain delegates to them once (see docs/operations.md).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface DnsZoneArgs {
  domain: string;
  labels: Record<string, string>;
  /** Allow `pulumi destroy` to remove records the registrar created at run time (dev only). */
  forceDestroy: boolean;
  /** Protect the zone (its name servers are delegated to from outside) from deletion. */
  protect: boolean;
}

export class DnsZone extends pulumi.ComponentResource {
  readonly zone: gcp.dns.ManagedZone;
  readonly zoneName: pulumi.Output<string>;
  readonly nameServers: pulumi.Output<string[]>;

  constructor(name: string, args: DnsZoneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:dns:DnsZone", name, {}, opts);
    this.zone = new gcp.dns.ManagedZone(
      name,
      {
        dnsName: `${args.domain}.`,
        description: `atplatform ${args.domain}`,
        visibility: "public",
        dnssecConfig: { state: "on" },
        forceDestroy: args.forceDestroy,
        labels: args.labels,
      },
      { parent: this, protect: args.protect },
    );
    this.zoneName = this.zone.name;
    this.nameServers = this.zone.nameServers;
    this.registerOutputs({ nameServers: this.nameServers });
  }
}
