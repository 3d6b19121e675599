// A stand-in for a swarm manager's Docker Engine API: real HTTPS with client certificates,
// answering from a recorded exchange (a JSON fixture) in order and recording every request.
// A request that is not the next one expected gets HTTP 599 and is recorded as it came.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  /** Query parameters; values that are JSON (filters, version) decoded. */
  query?: Record<string, unknown>;
  body?: unknown;
}

export interface Exchange {
  request: RecordedRequest;
  response: { status: number; body?: unknown; stall?: boolean };
  /** Answer every matching request with this, for ever (polling that never ends). */
  repeat?: boolean;
}

export interface Fixture {
  description: string;
  exchanges: Exchange[];
}

const DIR = join(__dirname, "fixtures");

/** Loads `fixtures/<name>.json`; `{"$file": "x.json"}` anywhere is replaced by that file. */
export function loadFixture(name: string): Fixture {
  return expand(JSON.parse(readFileSync(join(DIR, `${name}.json`), "utf8"))) as Fixture;
}

function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.$file === "string" && Object.keys(o).length === 1)
      return expand(JSON.parse(readFileSync(join(DIR, o.$file), "utf8")));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expand(x)]));
  }
  return v;
}

export interface EngineTls {
  key: string;
  cert: string;
  ca: string;
}

export class ReplayEngine {
  readonly requests: RecordedRequest[] = [];
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly exchanges: Exchange[],
  ) {}

  static async start(tls: EngineTls, exchanges: Exchange[]): Promise<ReplayEngine> {
    const server = createServer({
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const engine = new ReplayEngine(server, exchanges);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "https://engine");
        const rec: RecordedRequest = { method: req.method ?? "", path: url.pathname };
        if ([...url.searchParams.keys()].length > 0)
          rec.query = Object.fromEntries(
            [...url.searchParams.entries()].map(([k, v]) => [k, decode(v)]),
          );
        const raw = Buffer.concat(chunks).toString("utf8");
        if (raw !== "") rec.body = decode(raw);
        engine.requests.push(rec);
        const ex = engine.exchanges[engine.next];
        if (!ex || ex.request.method !== rec.method || ex.request.path !== rec.path) {
          res.writeHead(599, { "content-type": "application/json" });
          res.end(JSON.stringify({ message: `unexpected ${rec.method} ${rec.path}` }));
          return;
        }
        if (!ex.repeat) engine.next++;
        if (ex.response.stall) return; // never answers; closed by stop()
        const body = ex.response.body === undefined ? "" : JSON.stringify(ex.response.body);
        res.writeHead(ex.response.status, {
          "content-type": "application/json",
          "api-version": "1.43",
        });
        res.end(body);
      });
    });
    server.on("connection", (s: Socket) => {
      engine.sockets.add(s);
      s.on("close", () => engine.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return engine;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Exchanges not yet requested. */
  get remaining(): Exchange[] {
    return this.exchanges.slice(this.next);
  }

  /** The requests the fixture expects, for comparison with `requests`. */
  expected(): RecordedRequest[] {
    return this.exchanges.map((e) => e.request);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function decode(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
