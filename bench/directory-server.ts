// Benchmark helper process: runs one server under test and prints "READY <port>".
//   bare  - the ceiling: a minimal TLS responder answering from a Map, no store, no checks
//   file  - DirectoryServer with the file store
//   redis - DirectoryServer with the Redis store (password from ATDIRECTORY_REDIS_PASSWORD)
//   redis-nocache - the same with the in-process cache off: every lookup is a Redis GET
// Usage: tsx bench/directory-server.ts <bare|file|redis> <cert> <key> <records> [redisUrl]
import { createServer } from "node:tls";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { DirectoryServer, parseRecords } from "@atplatform/directory";

async function bare(cert: string, key: string, records: string): Promise<number> {
  const map = parseRecords(readFileSync(records, "utf8"));
  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (socket) => {
    socket.setNoDelay(true);
    let pending = "";
    socket.on("error", () => undefined);
    socket.on("data", (d: Buffer) => {
      pending += d.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim().toLowerCase();
        pending = pending.slice(nl + 1);
        if (line === "@exit") {
          socket.end();
          return;
        }
        socket.write(`${map.get(line) ?? "null"}\r\n@`);
      }
    });
    socket.write("@");
  });
  server.on("tlsClientError", () => undefined);
  process.on("SIGTERM", () => process.exit(0));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

async function directory(kind: string, cert: string, key: string, records: string, redis?: string) {
  const server = await DirectoryServer.create({
    host: "127.0.0.1",
    port: 0,
    httpPort: -1,
    cert,
    key,
    records: kind === "file" ? records : undefined,
    redis: kind.startsWith("redis") ? redis : undefined,
    cacheTtlMs:
      kind === "redis-nocache"
        ? 0
        : process.env.BENCH_TTL
          ? Number(process.env.BENCH_TTL)
          : undefined,
    redisPassword: process.env.ATDIRECTORY_REDIS_PASSWORD,
    ipMissBudget: 0,
    maxConnections: 100_000,
    logLevel: "warn",
  });
  const { port } = await server.start();
  process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
  return port;
}

async function main(): Promise<void> {
  const [kind, cert, key, records, redis] = process.argv.slice(2);
  if (!kind || !cert || !key || !records) throw new Error("usage: <kind> <cert> <key> <records>");
  const port =
    kind === "bare"
      ? await bare(cert, key, records)
      : await directory(kind, cert, key, records, redis);
  process.stdout.write(`READY ${port}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
