// A fake GCE metadata server for the swarm VMs' startup script in the real-engine tests: it
// answers the two paths the script reads, per VM, telling VMs apart by their source
// address as the real server does by the calling instance. Only with `Metadata-Flavor:
// Google` (the real server refuses requests without it).
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";

export class FakeMetadataServer {
  /** The access token it hands out; the fake Secret Manager accepts only this one. */
  readonly token = `ya29.fake-${randomBytes(12).toString("hex")}`;
  /** Every answered path, as `<client address> <path>`. */
  readonly requests: string[] = [];

  private readonly server: Server;
  private port = 0;

  private constructor(readonly address: string) {
    this.server = createServer((req, res) => this.answer(req.socket.remoteAddress ?? "", req, res));
  }

  static async start(host: string): Promise<FakeMetadataServer> {
    const self = new FakeMetadataServer(host);
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

  private answer(
    client: string,
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ): void {
    const path = (req.url ?? "").split("?")[0]!;
    this.requests.push(`${client} ${path}`);
    if (req.headers["metadata-flavor"] !== "Google") {
      res.writeHead(403).end("Missing Metadata-Flavor:Google header.\n");
      return;
    }
    res.setHeader("Metadata-Flavor", "Google");
    if (path === "/computeMetadata/v1/instance/network-interfaces/0/ip") {
      res.writeHead(200, { "content-type": "application/text" }).end(client);
      return;
    }
    if (path === "/computeMetadata/v1/instance/service-accounts/default/token") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ access_token: this.token, expires_in: 3599, token_type: "Bearer" }));
      return;
    }
    res.writeHead(404).end("Not Found\n");
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
