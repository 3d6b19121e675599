// The hardened container security context every platform workload on GKE runs with:
// no privilege escalation, read-only root filesystem, every Linux capability dropped.
// (Non-root user and group are set on the pod, per workload.)
export const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/** Pod Security Admission: namespaces admit only pods that meet the `restricted` standard. */
export const RESTRICTED_NAMESPACE_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
};
