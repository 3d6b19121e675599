// Artifact Registry for the platform's images (directory, atServer, registrar), readable
// by the clusters' and swarms' node service accounts only.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface ImageRegistryArgs {
  region: string;
  /** Members ("serviceAccount:…") allowed to pull. */
  readers: pulumi.Input<string>[];
  labels: Record<string, string>;
}

export class ImageRegistry extends pulumi.ComponentResource {
  readonly repository: gcp.artifactregistry.Repository;
  /** `<region>-docker.pkg.dev/<project>/<repo>` */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registry:ImageRegistry", name, {}, opts);
    this.repository = new gcp.artifactregistry.Repository(
      name,
      {
        repositoryId: name,
        location: args.region,
        format: "DOCKER",
        dockerConfig: { immutableTags: false },
        cleanupPolicies: [
          {
            id: "drop-old-untagged",
            action: "DELETE",
            condition: { tagState: "UNTAGGED", olderThan: `${30 * 24 * 3600}s` },
          },
        ],
        labels: args.labels,
      },
      { parent: this },
    );
    args.readers.forEach(
      (member, i) =>
        new gcp.artifactregistry.RepositoryIamMember(
          `${name}-reader-${i}`,
          {
            repository: this.repository.name,
            location: args.region,
            role: "roles/artifactregistry.reader",
            member,
          },
          { parent: this },
        ),
    );
    this.url = this.repository.registryUri;
    this.registerOutputs({ url: this.url });
  }
}
