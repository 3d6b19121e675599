// One HTTP GET with a deadline and a byte budget, over TCP or a unix socket. Failures are
// AgentFetchError with a reason from a fixed set (the scrape-error counter's label).
import { request } from "node:http";

export type FetchFailure = "timeout" | "too_large" | "http_status" | "connect" | "parse";

export class AgentFetchError extends Error {
  override name = "AgentFetchError";
  constructor(
    message: string,
    readonly reason: FetchFailure,
  ) {
    super(message);
  }
}

export interface BoundedGet {
  /** `http://host:port/path`, or a path with `socketPath`. */
  url: string;
  socketPath?: string;
  timeoutMs: number;
  maxBytes: number;
}

export function boundedGet(o: BoundedGet): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: AgentFetchError) => {
      req.destroy();
      reject(err);
    };
    const headers = { accept: "text/plain, application/json", host: "localhost" };
    const target = o.socketPath
      ? { socketPath: o.socketPath, path: o.url, method: "GET", headers }
      : { ...urlParts(o.url), method: "GET", headers: { accept: headers.accept } };
    const req = request(target, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return fail(new AgentFetchError(`HTTP ${res.statusCode}`, "http_status"));
      }
      const declared = Number(res.headers["content-length"]);
      if (declared > o.maxBytes)
        return fail(new AgentFetchError(`${declared} bytes declared`, "too_large"));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > o.maxBytes)
          return fail(new AgentFetchError(`more than ${o.maxBytes} bytes`, "too_large"));
        chunks.push(c);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
      res.on("error", (err) => fail(new AgentFetchError(err.message, "connect")));
    });
    const timer = setTimeout(
      () => fail(new AgentFetchError(`no answer within ${o.timeoutMs} ms`, "timeout")),
      o.timeoutMs,
    );
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err instanceof AgentFetchError ? err : new AgentFetchError(err.message, "connect"));
    });
    req.on("close", () => clearTimeout(timer));
    req.end();
  });
}

function urlParts(url: string): { host: string; port: string; path: string } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}` };
}
