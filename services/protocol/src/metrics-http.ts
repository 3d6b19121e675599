// A listener that serves only GET /metrics (the atServer's and the registrar's; the directory
// has its ops port). Plain HTTP: bind it to loopback or a private network, never publish it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CONTENT_TYPE } from "./metrics";

export class MetricsHttpServer {
  private server?: Server;

  constructor(private readonly render: () => string) {}

  /** Listens; resolves with the bound port (0 picks one). */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
      } else if (path === "/metrics") {
        res.writeHead(200, { "content-type": CONTENT_TYPE }).end(this.render());
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
