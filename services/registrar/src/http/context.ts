import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessKeys } from "../keys/access-keys";
import type { RolloutController } from "../rollout/rollout-controller";
import type { RegistrarService } from "../service";
import type { ApiLimits, ApiRateLimiter } from "./rate-limit";

export interface HttpSettings {
  /** The onboarding and admin keys accepted now (rotations included). */
  keys: AccessKeys;
  /** How long replaced keys stay valid when a rotation does not say. */
  keyOverlapMs: number;
  /** Image roll-outs; absent when the orchestrator runs no images (local). */
  rollout?: RolloutController;
  orchestrator: string;
  swarms: string[];
  bodyLimit: number;
  secureCookies: boolean;
  apiLimits: ApiLimits;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  service: RegistrarService;
  settings: HttpSettings;
  limiter: ApiRateLimiter;
}

export interface Route {
  method: "GET" | "POST";
  /** Matched against the decoded path; named groups become params. */
  path: RegExp;
  handler: (ctx: Ctx) => Promise<void> | void;
}
