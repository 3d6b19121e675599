// One logger per subsystem, all children of the process root logger.
import pino, { type Logger } from "pino";
import { prettyStreamFor } from "@atplatform/protocol/src/log-output";
import type { LogLevel } from "./config";

export type { Logger };

export interface Loggers {
  server: Logger;
  conn: Logger;
  verbs: Logger;
  store: Logger;
  jobs: Logger;
  tls: Logger;
}

export function createLoggers(level: LogLevel, atSign: string, root?: Logger): Loggers {
  const base = root ?? pino({ level, base: { atSign } }, prettyStreamFor(2) ?? pino.destination(2));
  return {
    server: base.child({ sub: "server" }),
    conn: base.child({ sub: "conn" }),
    verbs: base.child({ sub: "verbs" }),
    store: base.child({ sub: "store" }),
    jobs: base.child({ sub: "jobs" }),
    tls: base.child({ sub: "tls" }),
  };
}
