import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegistrarService } from "../service";
import type { ApiLimits, ApiRateLimiter } from "./rate-limit";

export interface HttpSettings {
  apiKey: string;
  adminKey: string;
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
