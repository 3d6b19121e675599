import pino from "pino";
import { prettyStreamFor } from "@atplatform/protocol/src/log-output";

// One root logger; one child per subsystem. Level from LOG_LEVEL (outside the typed config).
const root = pino(
  {
    name: "registrar",
    level: process.env.LOG_LEVEL ?? "info",
    redact: ["req.headers.authorization", "req.headers.cookie", "cramSecret", "secret"],
  },
  prettyStreamFor(1) ?? pino.destination(1),
);

export const httpLogger = root.child({ subsystem: "http" });
export const provisionLogger = root.child({ subsystem: "provisioning" });
export const orchestratorLogger = root.child({ subsystem: "orchestrator" });
export const mailLogger = root.child({ subsystem: "mail" });
export const registrarLogger = root.child({ subsystem: "registrar" });
export const proberLogger = root.child({ subsystem: "prober" });
export const rolloutLogger = root.child({ subsystem: "rollout" });
export const keysLogger = root.child({ subsystem: "keys" });

/** Changes the level of every registrar logger (tests, embedding). */
export function setRegistrarLogLevel(level: pino.LevelWithSilent): void {
  for (const l of [
    root,
    httpLogger,
    provisionLogger,
    orchestratorLogger,
    mailLogger,
    registrarLogger,
    proberLogger,
    rolloutLogger,
    keysLogger,
  ])
    l.level = level;
}
