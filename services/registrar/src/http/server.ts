import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { BadRequestError, MethodNotAllowedError, NotFoundError } from "../errors";
import { httpLogger as log } from "../logger";
import type { RegistrarService } from "../service";
import { adminRoutes } from "./admin-routes";
import { apiRoutes } from "./api-routes";
import type { HttpSettings, Route } from "./context";
import { pageRoutes } from "./page-routes";
import { ApiRateLimiter } from "./rate-limit";
import { sendError } from "./respond";

const ROUTES: Route[] = [...apiRoutes, ...pageRoutes, ...adminRoutes];

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
    log.debug(
      { method: req.method, path: rawPath, status: res.statusCode, ms: Date.now() - started },
      "request",
    );
  }
}
