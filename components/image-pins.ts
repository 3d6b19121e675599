// Pins configured image references to their registry digests with @pulumi/docker: a
// reference given by tag is looked up in its registry at `up` (and preview) time and
// deployed as `<ref>@sha256:…`, so a tag moved later never changes what runs until the
// next `up`, and the swarm nodes (which pull by digest only) get a digest they can pull.
// References that already carry a digest are used as given.
import * as docker from "@pulumi/docker";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

const DIGEST = /@sha256:[a-f0-9]{64}$/;

export interface ImagePinsArgs {
  region: string;
}

export class ImagePins extends pulumi.ComponentResource {
  /** Talks to registries only (no Docker daemon), as whoever runs `pulumi up`. */
  readonly provider: docker.Provider;

  constructor(name: string, args: ImagePinsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registry:ImagePins", name, {}, opts);
    // A short-lived token of the caller for Artifact Registry; other registries anonymously.
    const token = gcp.organizations.getClientConfigOutput({ parent: this }).accessToken;
    this.provider = new docker.Provider(
      name,
      {
        disableDockerDaemonCheck: true,
        registryAuth: [
          {
            address: `${args.region}-docker.pkg.dev`,
            username: "oauth2accesstoken",
            password: pulumi.secret(token),
          },
        ],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }

  /** `ref` pinned by digest: unchanged if it has one, else resolved in its registry. */
  pin(ref: string): pulumi.Output<string> {
    if (DIGEST.test(ref)) return pulumi.output(ref);
    const found = docker.getRegistryImageOutput(
      { name: ref },
      { provider: this.provider, parent: this },
    );
    return found.sha256Digest.apply((digest) => {
      if (!/^sha256:[a-f0-9]{64}$/.test(digest))
        throw new Error(`registry returned no digest for ${ref}`);
      return `${ref}@${digest}`;
    });
  }
}
