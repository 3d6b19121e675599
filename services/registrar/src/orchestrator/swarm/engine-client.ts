import Docker from "dockerode";
import {
  EngineApiError,
  EngineConflictError,
  EngineNotFoundError,
  EngineTimeoutError,
  EngineUnreachableError,
} from "./errors";
import { EngineTlsSource, type EngineTlsPems } from "./engine-tls";
import type { SwarmConfig } from "./swarm-config";

export interface EngineRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path below the API version, e.g. `/services/create`. */
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
}

// The codes the Engine documents as success for the calls we make.
const OK: Record<number, boolean> = { 200: true, 201: true, 204: true };

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ETIMEDOUT",
]);

/**
 * One swarm's Docker Engine API over mutual TLS, through dockerode's transport. Every call
 * has a deadline (aborted when it passes) and fails with one of the Engine* error classes.
 */
export class EngineClient {
  private docker: Docker;
  private readonly tls: EngineTlsSource;

  constructor(
    readonly swarm: SwarmConfig,
    private readonly timeoutMs: number,
    private readonly apiVersion: string,
  ) {
    const { ca, cert, key, files } = swarm.engine;
    this.tls = new EngineTlsSource({ ca, cert, key }, files);
    this.docker = this.connectWith({ ca, cert, key });
  }

  private connectWith(pems: EngineTlsPems): Docker {
    return new Docker({
      protocol: "https",
      host: this.swarm.engine.host,
      port: this.swarm.engine.port,
      ...pems,
      version: this.apiVersion,
    });
  }

  async call<T>(req: EngineRequest): Promise<T> {
    // Rotated certificate files: connections from here on use them (no restart).
    const tls = this.tls.current();
    if (tls.changed) this.docker = this.connectWith(tls.pems);
    const label = `${req.method} ${req.path}`;
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.timeoutMs);
    const hasQuery = req.query !== undefined && Object.keys(req.query).length > 0;
    // docker-modem sends `_query` as the query string and `_body` (or the whole object, for
    // a POST) as the JSON body.
    const options = hasQuery
      ? { _query: req.query, ...(req.body !== undefined ? { _body: req.body } : {}) }
      : (req.body as Record<string, unknown> | undefined);
    try {
      return await new Promise<T>((resolve, reject) => {
        this.docker.modem.dial(
          {
            path: hasQuery ? `${req.path}?` : req.path,
            method: req.method,
            options,
            statusCodes: OK,
            abortSignal: ctl.signal,
          },
          (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as T)),
        );
      });
    } catch (err) {
      throw this.translate(err, label, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  private translate(err: unknown, label: string, timedOut: boolean): Error {
    const e = err as { statusCode?: number; json?: unknown; code?: string; message?: string };
    const name = this.swarm.name;
    if (timedOut)
      return new EngineTimeoutError(`no answer within ${this.timeoutMs} ms`, name, label);
    if (typeof e.statusCode === "number") {
      const detail = engineMessage(e.json) ?? `HTTP ${e.statusCode}`;
      if (e.statusCode === 404) return new EngineNotFoundError(detail, name, label);
      if (e.statusCode === 409) return new EngineConflictError(detail, name, label);
      return new EngineApiError(`HTTP ${e.statusCode}: ${detail}`, name, label, e.statusCode);
    }
    const code = e.code ?? "";
    if (
      UNREACHABLE.has(code) ||
      code.startsWith("ERR_TLS") ||
      code.startsWith("ERR_SSL") ||
      /CERT|SSL/.test(code)
    )
      return new EngineUnreachableError(`${code}: ${e.message ?? ""}`.trim(), name, label);
    return new EngineUnreachableError(e.message ?? String(err), name, label);
  }
}

function engineMessage(json: unknown): string | undefined {
  if (json && typeof json === "object" && "message" in json) {
    const m = (json as { message: unknown }).message;
    if (typeof m === "string") return m;
  }
  if (Buffer.isBuffer(json) && json.length > 0) return json.toString("utf8").slice(0, 200);
  return undefined;
}
