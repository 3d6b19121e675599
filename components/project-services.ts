// The Google APIs the platform uses, enabled by the stack itself. They stay enabled when
// the stack is destroyed (other things in the project may rely on them).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export const REQUIRED_APIS = [
  "compute.googleapis.com",
  "container.googleapis.com",
  "redis.googleapis.com",
  "file.googleapis.com",
  "servicenetworking.googleapis.com",
  "dns.googleapis.com",
  "artifactregistry.googleapis.com",
  "secretmanager.googleapis.com",
  "iam.googleapis.com",
  // Secrets encryption (KMS key of the clusters) and admission control (Binary Authorization).
  "cloudkms.googleapis.com",
  "binaryauthorization.googleapis.com",
  "monitoring.googleapis.com",
];

export class ProjectServices extends pulumi.ComponentResource {
  readonly services: gcp.projects.Service[];

  constructor(name: string, args: { project: string }, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:project:ProjectServices", name, {}, opts);
    this.services = REQUIRED_APIS.map(
      (service) =>
        new gcp.projects.Service(
          `${name}-${service.split(".")[0]}`,
          {
            project: args.project,
            service,
            disableOnDestroy: false,
            disableDependentServices: false,
          },
          { parent: this },
        ),
    );
    this.registerOutputs({});
  }
}
