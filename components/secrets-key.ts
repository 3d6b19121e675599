// Application-layer encryption of Kubernetes Secrets: a Cloud KMS key ring and key in the
// clusters' region, rotated on a schedule, usable by the project's GKE service agent only.
// Key rings and keys can never be deleted in Cloud KMS, so both are autonamed (a random
// suffix): a destroyed and re-created stack never collides with its old, retained names.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface SecretsKeyArgs {
  project: string;
  /** The clusters' region: GKE accepts only a key in the cluster's own location. */
  region: string;
  /** A new primary key version this often (Cloud KMS takes seconds: "7776000s"). */
  rotationDays: number;
  labels: Record<string, string>;
  /** Keep the key in state on destroy (prod): the clusters' etcd is encrypted with it. */
  protect: boolean;
}

export const SECRETS_KEY_ROTATION_DAYS = 90;

export class SecretsKey extends pulumi.ComponentResource {
  readonly keyRing: gcp.kms.KeyRing;
  readonly key: gcp.kms.CryptoKey;
  /** The key's id, `projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>`. */
  readonly keyId: pulumi.Output<string>;
  /** The GKE service agent's grant on the key; clusters must wait for it. */
  readonly grant: gcp.kms.CryptoKeyIAMMember;

  constructor(name: string, args: SecretsKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:gke:SecretsKey", name, {}, opts);
    this.keyRing = new gcp.kms.KeyRing(
      name,
      { project: args.project, location: args.region },
      { parent: this, protect: args.protect },
    );
    this.key = new gcp.kms.CryptoKey(
      name,
      {
        keyRing: this.keyRing.id,
        purpose: "ENCRYPT_DECRYPT",
        rotationPeriod: `${args.rotationDays * 24 * 3600}s`,
        labels: args.labels,
      },
      { parent: this, protect: args.protect },
    );
    // GKE encrypts and decrypts the data-encryption keys as its service agent, which exists
    // once container.googleapis.com is enabled: service-<number>@container-engine-robot.
    const project = gcp.organizations.getProjectOutput(
      { projectId: args.project },
      { parent: this },
    );
    this.grant = new gcp.kms.CryptoKeyIAMMember(
      `${name}-gke-agent`,
      {
        cryptoKeyId: this.key.id,
        role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member: pulumi.interpolate`serviceAccount:service-${project.number}@container-engine-robot.iam.gserviceaccount.com`,
      },
      { parent: this },
    );
    this.keyId = this.key.id;
    this.registerOutputs({ keyId: this.keyId });
  }
}
