// One pino logger per directory instance, with a child per subsystem. No global state:
// in-process instances (tests, the local platform) each get their own.
import pino, { type Logger } from "pino";
import { prettyStreamFor } from "@atplatform/protocol/src/log-output";
import type { LogLevel } from "./config";

export type { Logger };

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    { name: "atdirectory", level },
    destination ?? prettyStreamFor(1) ?? pino.destination(1),
  );
}
