// The least role the CI preview identity needs in the clusters, instead of
// roles/container.developer (which reads every Secret, execs into pods, port-forwards and
// mints service-account tokens, i.e. acts as any workload's Google identity).
// `pulumi preview` with server-side apply asks the API server for dry-run creates and
// patches of exactly the kinds the stack manages; Kubernetes authorises a dry run like the
// real request, so the role holds get/list/create/update on those kinds, and on Secrets
// create/update only: no list, get or watch, no delete anywhere, nothing on pods.
// What remains: a dry-run patch of a Secret answers with the merged object, so the
// identity can still read a Secret whose name it patches; keep its Workload Identity
// condition on a reviewed GitHub Environment (docs/operations.md).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** GKE IAM permission resource of each Kubernetes kind the stack declares. */
export const KIND_PERMISSIONS: Record<string, string> = {
  Namespace: "namespaces",
  Secret: "secrets",
  ConfigMap: "configMaps",
  Service: "services",
  ServiceAccount: "serviceAccounts",
  Deployment: "deployments",
  StatefulSet: "statefulSets",
  DaemonSet: "daemonSets",
  HorizontalPodAutoscaler: "horizontalPodAutoscalers",
  PodDisruptionBudget: "podDisruptionBudgets",
  NetworkPolicy: "networkPolicies",
  Ingress: "ingresses",
  StorageClass: "storageClasses",
  PersistentVolumeClaim: "persistentVolumeClaims",
};
/** Custom resources (BackendConfig, FrontendConfig, …) are "third-party objects" to GKE IAM. */
export const CUSTOM_RESOURCE_PERMISSIONS = "thirdPartyObjects";

/** The verbs a server-side-apply preview uses, per kind. */
function verbs(resource: string): string[] {
  return resource === "secrets" ? ["create", "update"] : ["get", "list", "create", "update"];
}

export const PREVIEW_PERMISSIONS: string[] = [
  // The cluster object and its DNS endpoint (IAM-authorised; no IP allowlist).
  "container.clusters.get",
  "container.clusters.list",
  "container.clusters.connect",
  ...[...Object.values(KIND_PERMISSIONS), CUSTOM_RESOURCE_PERMISSIONS].flatMap((r) =>
    verbs(r).map((v) => `container.${r}.${v}`),
  ),
];

export class PreviewRole extends pulumi.ComponentResource {
  /** `projects/<project>/roles/<id>`, bound to the CI preview service account by hand. */
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: { project: string }, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:ci:PreviewRole", name, {}, opts);
    // A deleted custom role keeps its id for weeks: a random suffix lets a stack come back.
    const suffix = new random.RandomId(name, { byteLength: 3 }, { parent: this });
    const role = new gcp.projects.IAMCustomRole(
      name,
      {
        project: args.project,
        roleId: pulumi.interpolate`atplatformPreview_${suffix.hex}`,
        title: "atplatform CI preview (dry-run applies, no Secret reads)",
        permissions: PREVIEW_PERMISSIONS,
      },
      { parent: this },
    );
    this.name = role.name;
    this.registerOutputs({ name: this.name });
  }
}
