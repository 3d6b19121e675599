import { readFileSync } from "node:fs";
import { createServer } from "node:net";

// Ports are picked below the kernel's ephemeral range: a port the OS hands out for `listen(0)`
// can be taken a moment later as the local port of any outgoing connection (the tests run in
// two workers, full of connections), and the server that meant to listen on it then fails
// with EADDRINUSE. Nothing takes a port below that range unless asked to.
const FLOOR = 20_000;

function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > FLOOR + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const CEILING = ephemeralStart();

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FLOOR + Math.floor(Math.random() * (CEILING - FLOOR));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port found in ${FLOOR}-${CEILING - 1}`);
}
