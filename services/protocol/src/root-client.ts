// Asks an atDirectory (root) where an atSign's atServer is (Part A item 4, Part B §1.2).
import { connect as tlsConnect } from "node:tls";
import { ConnectFailedError, TimeoutError } from "./errors";

export interface RootLookupOptions {
  host: string;
  port: number;
  ca?: string | Buffer | Array<string | Buffer>;
  servername?: string;
  timeoutMs?: number;
}

export interface AtServerAddress {
  host: string;
  port: number;
}

/** An answer is `host:port` (or `null`); anything longer without a newline is not one. */
const MAX_ANSWER_BYTES = 4096;

/** `host:port` of the atSign's atServer, or undefined when the directory answers `null`. */
export function lookupAtServer(
  atSign: string,
  opts: RootLookupOptions,
): Promise<AtServerAddress | undefined> {
  const name = atSign.replace(/^@/, "").toLowerCase();
  const isIp = /^[\d.]+$|:/.test(opts.host);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: opts.host,
      port: opts.port,
      ca: opts.ca,
      servername: opts.servername ?? (isIp ? undefined : opts.host),
    });
    let buf = "";
    let sent = false;
    const timer = setTimeout(
      () => done(new TimeoutError("atDirectory did not answer")),
      opts.timeoutMs ?? 10_000,
    );
    const done = (err: Error | null, value?: AtServerAddress) => {
      clearTimeout(timer);
      socket.end("@exit\n");
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      buf += d;
      if (!sent) {
        if (!buf.startsWith("@"))
          return done(new ConnectFailedError("atDirectory sent no greeting"));
        buf = buf.slice(1);
        sent = true;
        socket.write(`${name}\n`);
      }
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (buf.length > MAX_ANSWER_BYTES)
          done(new ConnectFailedError(`atDirectory answer longer than ${MAX_ANSWER_BYTES} bytes`));
        return;
      }
      const answer = buf
        .slice(0, nl)
        .replace(/\r$/, "")
        .replace(/^data:/, "")
        .trim();
      if (answer === "" || answer.startsWith("null")) return done(null, undefined);
      const m = /^([^:]+):(\d+)$/.exec(answer.replace(/@/g, ""));
      if (!m)
        return done(new ConnectFailedError(`bad atDirectory answer ${JSON.stringify(answer)}`));
      done(null, { host: m[1]!, port: Number(m[2]) });
    });
    socket.on("error", (err) => done(new ConnectFailedError(err.message)));
    socket.on("close", () => done(new ConnectFailedError("atDirectory closed the connection")));
  });
}
