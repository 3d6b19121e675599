// A TCP proxy for Redis topologies in tests: new connections go round-robin to the
// backends (what Memorystore's read endpoint does with replicas), and `hold()` stops
// forwarding in both directions without closing anything (a lagging or partitioned
// link: neither side sees an error) until `release()` delivers what was held, in order.
import { createServer, connect, type Server, type Socket } from "node:net";

export class TcpProxy {
  private next = 0;
  private held = false;
  private queue: [Socket, Buffer][] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly backends: number[],
  ) {}

  static async start(backends: number[]): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const proxy = new TcpProxy(server, port, backends);
    server.on("connection", (client) => proxy.accept(client));
    return proxy;
  }

  /** Connections so far per backend port (the read endpoint's choice). */
  readonly routed: number[] = [];

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const [to, data] of this.queue.splice(0)) if (!to.destroyed) to.write(data);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private accept(client: Socket): void {
    const port = this.backends[this.next++ % this.backends.length]!;
    this.routed.push(port);
    const backend = connect(port, "127.0.0.1");
    for (const [from, to] of [
      [client, backend],
      [backend, client],
    ] as const) {
      this.sockets.add(from);
      from.on("data", (d: Buffer) => (this.held ? this.queue.push([to, d]) : to.write(d)));
      from.on("error", () => undefined);
      from.on("close", () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }
}
