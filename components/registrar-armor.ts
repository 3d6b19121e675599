// Cloud Armor in front of the registrar's HTTPS load balancer (attached through the
// Service's BackendConfig): the admin pages and admin API only from configured CIDRs (none
// by default: operators then use `kubectl port-forward`), and a per-client rate limit on
// everything else as a first line before the registrar's own limits.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface RegistrarArmorArgs {
  /** CIDRs allowed to reach /admin and /api/admin. */
  adminCidrs: string[];
  /** Requests per minute one client address may send before it gets 429. */
  requestsPerMinute: number;
}

/**
 * Matches the admin pages (/admin…) and API (/api/admin…) however the path is spelt: the
 * registrar decodes percent-escapes and its URL parser resolves dot segments, so the check
 * is on the decoded, lower-cased path and matches "/admin" anywhere in it (RE2 `matches`
 * is unanchored).
 */
export const ADMIN_PATH_EXPRESSION = "request.path.urlDecode().lower().matches('/admin')";

export const ADMIN_ALLOW_PRIORITY = 1000;
export const ADMIN_DENY_PRIORITY = 1900;
export const RATE_LIMIT_PRIORITY = 2000;
/** The default rule's fixed priority (the lowest). */
export const DEFAULT_RULE_PRIORITY = 2147483647;

export class RegistrarArmor extends pulumi.ComponentResource {
  readonly policy: gcp.compute.SecurityPolicy;

  constructor(name: string, args: RegistrarArmorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registrar:RegistrarArmor", name, {}, opts);
    const everyone = { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } };
    this.policy = new gcp.compute.SecurityPolicy(
      name,
      {
        description: "registrar: admin paths from allowed CIDRs only; per-client rate limit",
        type: "CLOUD_ARMOR",
        rules: [
          ...args.adminCidrs.map((cidr, i) => ({
            priority: ADMIN_ALLOW_PRIORITY + i,
            action: "allow",
            description: `admin from ${cidr}`,
            match: {
              expr: { expression: `${ADMIN_PATH_EXPRESSION} && inIpRange(origin.ip, '${cidr}')` },
            },
          })),
          {
            priority: ADMIN_DENY_PRIORITY,
            action: "deny(403)",
            description: "admin from anywhere else",
            match: { expr: { expression: ADMIN_PATH_EXPRESSION } },
          },
          {
            priority: RATE_LIMIT_PRIORITY,
            action: "throttle",
            description: "per-client rate limit",
            match: everyone,
            rateLimitOptions: {
              conformAction: "allow",
              exceedAction: "deny(429)",
              enforceOnKey: "IP",
              rateLimitThreshold: { count: args.requestsPerMinute, intervalSec: 60 },
            },
          },
          {
            priority: DEFAULT_RULE_PRIORITY,
            action: "allow",
            description: "default",
            match: everyone,
          },
        ],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
