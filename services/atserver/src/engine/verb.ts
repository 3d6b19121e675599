// What a verb handler is: who may call it and what it answers.
import type { Session } from "./session";
import type { ServerContext } from "../context";

/** U = unauthenticated, P = pol-authenticated peer, A = the owner (cram/pkam). */
export type Access = "U" | "P" | "A";

/** A handler's answer: `data:<string>`, a raw line, or nothing at all (monitor). */
export type VerbResult = string | { raw: string } | { none: true };

export interface VerbHandler<P = any> {
  access: readonly Access[];
  /** The AT0401 text when access is refused (default: the generic one). */
  unauthenticated?: string;
  handle(ctx: ServerContext, session: Session, params: P): VerbResult | Promise<VerbResult>;
}

export function allowed(access: readonly Access[], s: Session): boolean {
  if (access.includes("U")) return true;
  if (s.isOwner) return access.includes("A");
  if (s.polAtSign) return access.includes("P");
  return false;
}

export const NO_REPLY: VerbResult = { none: true };
