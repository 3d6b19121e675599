import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { BadRequestError, MethodNotAllowedError, NotFoundError } from "../errors";
import { httpLogger as log } from "../logger";
import type { RegistrarService } from "../service";
import { adminRoutes } from "./admin-routes";
import { apiRoutes } from "./api-routes";
import type { HttpSettings, Route } from "./context";
import { keyRoutes } from "./key-routes";
import { pageRoutes } from "./page-routes";
import { rolloutRoutes } from "./rollout-routes";
import { ApiRateLimiter } from "./rate-limit";
import { sendError } from "./respond";

const ROUTES: Route[] = [
  ...apiRoutes,
  ...rolloutRoutes,
  ...keyRoutes,
  ...pageRoutes,
  ...adminRoutes,
];
/** Liveness probes: logged at debug only, so they do not drown the access log. */
const PROBES = new Set(["/healthz", "/readyz"]);

/** The caller's X-Request-Id when it is a plain token (a proxy's), else a fresh one. */
export function requestId(header: string | string[] | undefined): string {
  return typeof header === "string" && /^[A-Za-z0-9._:-]{1,64}$/.test(header)
    ? header
    : randomUUID();
}

export function createHttpServer(service: RegistrarService, settings: HttpSettings): Server {
  const limiter = new ApiRateLimiter(settings.apiLimits);
  const server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout: 10_000 },
    (req, res) => void handle(req, res, service, settings, limiter),
  );
  server.keepAliveTimeout = 5_000;
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  service: RegistrarService,
  settings: HttpSettings,
  limiter: ApiRateLimiter,
): Promise<void> {
  const started = Date.now();
  const rawPath = (req.url ?? "/").split("?")[0]!;
  const reqId = requestId(req.headers["x-request-id"]);
  res.setHeader("x-request-id", reqId);
  const api = rawPath.startsWith("/api/");
  try {
    let url: URL;
    let path: string;
    try {
      url = new URL(req.url ?? "/", "http://registrar.invalid");
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new BadRequestError("malformed URL");
    }
    if (path.length > 512) throw new BadRequestError("URL too long");
    const matching = ROUTES.map((r) => ({ r, m: r.path.exec(path) })).filter((x) => x.m);
    if (matching.length === 0) throw new NotFoundError();
    const method = req.method === "HEAD" ? "GET" : req.method;
    const hit = matching.find((x) => x.r.method === method);
    if (!hit) throw new MethodNotAllowedError([...new Set(matching.map((x) => x.r.method))]);
    await hit.r.handler({
      req,
      res,
      url,
      params: { ...(hit.m!.groups ?? {}) },
      service,
      settings,
      limiter,
    });
  } catch (err) {
    sendError(res, err, api);
  } finally {
    log[PROBES.has(rawPath) ? "debug" : "info"](
      {
        reqId,
        method: req.method,
        path: rawPath.slice(0, 200),
        status: res.statusCode,
        ms: Date.now() - started,
      },
      "request",
    );
  }
}
