// Cloud Armor as the load balancer applies a security policy: rules in priority order, the
// first whose match holds decides (https://cloud.google.com/armor/docs/security-policy-overview
// "Rule evaluation order"). Only the match forms the stack uses are understood; any other
// expression throws, so a new rule cannot be silently mis-modelled.
import { inCidr } from "./flow-model";

export interface ArmorRequest {
  /** The request path as sent (percent-escapes and all). */
  path: string;
  ip: string;
}

const PATH_MATCH = /^request\.path\.urlDecode\(\)\.lower\(\)\.matches\('([^']*)'\)$/;
const IP_MATCH = /^inIpRange\(origin\.ip, '([\d./]+)'\)$/;

function term(t: string, req: ArmorRequest): boolean {
  const p = PATH_MATCH.exec(t);
  // RE2 `matches` is a partial (unanchored) match, like RegExp.test.
  if (p) return new RegExp(p[1]!).test(decodeURIComponent(req.path).toLowerCase());
  const ip = IP_MATCH.exec(t);
  if (ip) return inCidr(req.ip, ip[1]!);
  throw new Error(`armor model: unknown expression term ${t}`);
}

function matches(match: any, req: ArmorRequest): boolean {
  if (match.versionedExpr === "SRC_IPS_V1")
    return (match.config?.srcIpRanges ?? []).some(
      (r: string) => r === "*" || inCidr(req.ip, r.includes("/") ? r : `${r}/32`),
    );
  const expr: string | undefined = match.expr?.expression;
  if (expr === undefined) throw new Error("armor model: rule without a match");
  return expr.split("&&").every((t) => term(t.trim(), req));
}

/** The action of the first matching rule (e.g. "allow", "deny(403)", "throttle"). */
export function armorAction(rules: any[], req: ArmorRequest): string {
  const ordered = [...rules].sort((a, b) => a.priority - b.priority);
  for (const r of ordered) if (matches(r.match, req)) return r.action;
  throw new Error("armor model: no rule matched (a policy always has a default rule)");
}
