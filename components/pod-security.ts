// The hardened container security context every platform workload on GKE runs with:
// no privilege escalation, read-only root filesystem, every Linux capability dropped.
// (Non-root user and group are set on the pod, per workload.)
export const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};
