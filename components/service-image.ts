// Builds one service's image from services/<svc>/Dockerfile (context: the repository root)
// with docker-build and pushes it to Artifact Registry. Consumers deploy `ref`
// (tag@digest), so a new build rolls the workload and an unchanged one does not.
// Gated by `atplatform:buildImages`: previews never build (buildOnPreview: false).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
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
  /** Tag prefix; the tag is `<prefix>-<content digest>`, new whenever the sources change. */
  tag: string;
  /** `<region>-docker.pkg.dev/<project>/<repo>` of the (mutable) build cache. */
  cacheUrl: pulumi.Input<string>;
}

/**
 * A digest of everything a service's image is built from: the root manifests, every
 * workspace's package.json, and the sources of the service and the protocol package it
 * bundles. Immutable tags need a tag that changes exactly when the image does.
 */
export function sourceDigest(service: string, root = REPO_ROOT): string {
  const h = createHash("sha256");
  const files: string[] = [join(root, "package.json"), join(root, "package-lock.json")];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (e.name === "node_modules" || e.name === "dist" || e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  for (const ws of readdirSync(join(root, "services")).sort())
    files.push(join(root, "services", ws, "package.json"));
  walk(join(root, "services", service));
  if (service !== "protocol") walk(join(root, "services", "protocol"));
  for (const f of files) {
    h.update(relative(root, f));
    h.update("\0");
    try {
      h.update(readFileSync(f));
    } catch {
      h.update("(missing)");
    }
  }
  return h.digest("hex").slice(0, 16);
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
        tags: [
          pulumi.interpolate`${args.registryUrl}/${args.service}:${args.tag}-${sourceDigest(args.service)}`,
        ],
        // Layers cached in a separate, mutable repository (the image repository's tags are
        // immutable); a cache that cannot be written does not fail the build.
        cacheFrom: [
          { registry: { ref: pulumi.interpolate`${args.cacheUrl}/${args.service}:cache` } },
        ],
        cacheTo: [
          {
            registry: {
              ref: pulumi.interpolate`${args.cacheUrl}/${args.service}:cache`,
              mode: dockerBuild.CacheMode.Max,
              ignoreError: true,
            },
          },
        ],
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
