// Binary Authorization for both clusters: the project's policy admits only images from the
// platform's own Artifact Registry repository (and images given in config), plus the GKE
// system images Google maintains (global policy evaluation); everything else is denied and
// logged. That the admitted images are also pinned by digest is checked before they get
// here: the config parser pins every reference, and the policy pack refuses a workload
// whose image has no digest.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface AdmissionPolicyArgs {
  project: string;
  /** `<region>-docker.pkg.dev/<project>/<repo>`: every image below it is admitted. */
  registryUrl: pulumi.Input<string>;
  /** Further images (configured references), admitted by their repository path. */
  extraImages: pulumi.Input<string>[];
}

/** `host/path/name[:tag][@sha256:…]` → the allowlist pattern `host/path/name*`. */
export function repositoryPattern(ref: string): string {
  const m = /^(.+?)(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.exec(ref);
  return `${m![1]}*`;
}

export class AdmissionPolicy extends pulumi.ComponentResource {
  readonly policy: gcp.binaryauthorization.Policy;

  constructor(name: string, args: AdmissionPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:gke:AdmissionPolicy", name, {}, opts);
    // One policy per project (a singleton): destroying it restores Google's default.
    this.policy = new gcp.binaryauthorization.Policy(
      name,
      {
        project: args.project,
        globalPolicyEvaluationMode: "ENABLE",
        admissionWhitelistPatterns: [
          { namePattern: pulumi.interpolate`${args.registryUrl}/*` },
          ...args.extraImages.map((ref) => ({
            namePattern: pulumi.output(ref).apply(repositoryPattern),
          })),
        ],
        defaultAdmissionRule: {
          evaluationMode: "ALWAYS_DENY",
          enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG",
        },
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
