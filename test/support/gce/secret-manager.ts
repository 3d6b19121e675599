// A fake Secret Manager (the REST calls the swarm startup script makes, through its test
// seam): versions/latest:access and :addVersion on projects/<p>/secrets/<s>, with the real
// API's shapes (payload.data in base64; errors as {error:{code,status,message}}), a bearer
// token that must be the fake metadata server's, and a byte budget on request bodies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";

const MAX_BODY = 128 * 1024;

export class FakeSecretManager {
  private readonly versions = new Map<string, Buffer[]>();
  /** Every call, as `<client address> access|add <secret>`. */
  readonly calls: string[] = [];

  private readonly server: Server;
  private port = 0;

  private constructor(
    private readonly token: string,
    readonly project: string,
    readonly address: string,
  ) {
    this.server = createServer((req, res) => void this.answer(req, res));
  }

  static async start(host: string, project: string, token: string): Promise<FakeSecretManager> {
    const self = new FakeSecretManager(token, project, host);
    await new Promise<void>((resolve, reject) => {
      self.server.once("error", reject);
      self.server.listen(0, host, resolve);
    });
    self.port = (self.server.address() as { port: number }).port;
    return self;
  }

  get endpoint(): string {
    return `${this.address}:${this.port}`;
  }

  /** Adds a version (as `pulumi up` does for the stack's secrets). */
  put(secret: string, value: string): void {
    const list = this.versions.get(secret) ?? [];
    list.push(Buffer.from(value));
    this.versions.set(secret, list);
  }

  latest(secret: string): string | undefined {
    return this.versions.get(secret)?.at(-1)?.toString();
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? "";
    const auth = Buffer.from(req.headers.authorization ?? "");
    const want = Buffer.from(`Bearer ${this.token}`);
    if (auth.length !== want.length || !timingSafeEqual(auth, want))
      return fail(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    const base = `/v1/projects/${this.project}/secrets/`;
    const url = req.url ?? "";
    if (!url.startsWith(base)) return fail(res, 404, "NOT_FOUND", `No route ${url}`);
    const rest = url.slice(base.length);
    let m = /^([A-Za-z0-9_-]+)\/versions\/latest:access$/.exec(rest);
    if (m && req.method === "GET") {
      this.calls.push(`${client} access ${m[1]}`);
      const v = this.versions.get(m[1]!)?.at(-1);
      if (!v) return fail(res, 404, "NOT_FOUND", `Secret [${m[1]}] not found or has no versions.`);
      return json(res, 200, {
        name: `projects/${this.project}/secrets/${m[1]}/versions/${this.versions.get(m[1]!)!.length}`,
        payload: { data: v.toString("base64") },
      });
    }
    m = /^([A-Za-z0-9_-]+):addVersion$/.exec(rest);
    if (m && req.method === "POST") {
      this.calls.push(`${client} add ${m[1]}`);
      const body = await readBody(req);
      if (body === undefined) return fail(res, 413, "INVALID_ARGUMENT", "payload too large");
      let data: unknown;
      try {
        data = (JSON.parse(body) as { payload?: { data?: unknown } }).payload?.data;
      } catch {
        data = undefined;
      }
      if (typeof data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(data))
        return fail(res, 400, "INVALID_ARGUMENT", "payload.data must be base64");
      this.put(m[1]!, Buffer.from(data, "base64").toString());
      return json(res, 200, { name: `projects/${this.project}/secrets/${m[1]}/versions/x` });
    }
    return fail(res, 404, "NOT_FOUND", `No route ${req.method} ${url}`);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", () => resolve(undefined));
  });
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, code: number, status: string, message: string): void {
  json(res, code, { error: { code, message, status } });
}
