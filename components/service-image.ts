// Builds one service's image from services/<svc>/Dockerfile (context: the repository root)
// with docker-build and pushes it to Artifact Registry. Consumers deploy `ref`
// (tag@digest), so a new build rolls the workload and an unchanged one does not.
// Gated by `atplatform:buildImages`: previews never build (buildOnPreview: false).
import { join } from "node:path";
import * as dockerBuild from "@pulumi/docker-build";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** The repository root, resolved from this file (components/ is one level below). */
export const REPO_ROOT = join(__dirname, "..");

export interface ServiceImageArgs {
  /** Workspace folder under services/ that holds the Dockerfile. */
  service: "directory" | "atserver" | "registrar";
  region: string;
  /** `<region>-docker.pkg.dev/<project>/<repo>` */
  registryUrl: pulumi.Input<string>;
  tag: string;
}

export class ServiceImage extends pulumi.ComponentResource {
  readonly image: dockerBuild.Image;
  /** `<registry>/<service>:<tag>@sha256:…` */
  readonly ref: pulumi.Output<string>;

  constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registry:ServiceImage", name, {}, opts);
    // A short-lived token of whoever runs `pulumi up`; never stored unencrypted.
    const token = gcp.organizations.getClientConfigOutput({ parent: this }).accessToken;
    this.image = new dockerBuild.Image(
      name,
      {
        push: true,
        buildOnPreview: false,
        platforms: [dockerBuild.Platform.Linux_amd64],
        context: { location: REPO_ROOT },
        dockerfile: { location: join(REPO_ROOT, "services", args.service, "Dockerfile") },
        tags: [pulumi.interpolate`${args.registryUrl}/${args.service}:${args.tag}`],
        registries: [
          {
            address: `${args.region}-docker.pkg.dev`,
            username: "oauth2accesstoken",
            password: pulumi.secret(token),
          },
        ],
      },
      { parent: this },
    );
    this.ref = this.image.ref;
    this.registerOutputs({ ref: this.ref });
  }
}
