// Artifact Registry for the platform's images (directory, atServer, registrar), readable
// by the clusters' and swarms' node service accounts only.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface ImageRegistryArgs {
  region: string;
  /** Members ("serviceAccount:…") allowed to pull. */
  readers: pulumi.Input<string>[];
  labels: Record<string, string>;
  /** Tags can never be moved to another digest (prod). */
  immutableTags: boolean;
  /** Protect the image repository from deletion (prod). */
  protect: boolean;
}

export class ImageRegistry extends pulumi.ComponentResource {
  readonly repository: gcp.artifactregistry.Repository;
  /** `<region>-docker.pkg.dev/<project>/<repo>` */
  readonly url: pulumi.Output<string>;
  readonly cache: gcp.artifactregistry.Repository;
  /** The build cache repository's URL. */
  readonly cacheUrl: pulumi.Output<string>;

  constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registry:ImageRegistry", name, {}, opts);
    this.repository = new gcp.artifactregistry.Repository(
      name,
      {
        repositoryId: name,
        location: args.region,
        format: "DOCKER",
        dockerConfig: { immutableTags: args.immutableTags },
        // No deletion policy: running atServers and Deployments pin digests, and every image
        // the stack pushes carries its own tag, so an age rule could delete a digest in use.
        // Old images are pruned by hand (docs/operations.md).
        cleanupPolicies: [{ id: "keep-tagged", action: "KEEP", condition: { tagState: "TAGGED" } }],
        labels: args.labels,
      },
      { parent: this, protect: args.protect },
    );
    // Build cache layers (`<service>:cache`, rewritten by every build), kept two weeks.
    this.cache = new gcp.artifactregistry.Repository(
      `${name}-cache`,
      {
        repositoryId: `${name}-cache`,
        location: args.region,
        format: "DOCKER",
        dockerConfig: { immutableTags: false },
        cleanupPolicies: [
          {
            id: "drop-old-cache",
            action: "DELETE",
            condition: { tagState: "ANY", olderThan: `${14 * 24 * 3600}s` },
          },
        ],
        labels: args.labels,
      },
      { parent: this },
    );
    this.cacheUrl = this.cache.registryUri;
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
