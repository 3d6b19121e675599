// `node services/registrar/bin/registrar.js`: the registrar on its own, configured by env.
import { readFileSync } from "node:fs";
import { FileRecordWriter, RedisRecordWriter } from "@atplatform/directory";
import { configFromEnv } from "./config";
import { registrarLogger as log } from "./logger";
import { LogMailer, SmtpMailer } from "./mail/mailer";
import { LocalOrchestrator } from "./orchestrator/local-orchestrator";
import type { Orchestrator } from "./orchestrator/orchestrator";
import { infoBriefProbe, rootResolver } from "./provisioning/probes";
import { proberDeps, type EngineEndpoint } from "./probe/prober-deps";
import { Registrar } from "./registrar";

const HELP = `Usage: node services/registrar/bin/registrar.js

The registrar takes no arguments: it is configured by environment variables.
Required: REGISTRAR_API_KEY, REGISTRAR_ADMIN_KEY (16+ characters, different),
REGISTRAR_ROOT (the atDirectory host:port), and REGISTRAR_DIRECTORY_FILE or
REGISTRAR_DIRECTORY_REDIS (where directory records are written).
Every variable with its default: docs/registrar.md, "Running it on its own".
`;

export async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(HELP);
    return;
  }
  if (argv.length > 0)
    throw new Error(
      `unexpected argument ${argv[0]}: the registrar is configured by environment (see --help)`,
    );
  const env = configFromEnv();
  const ca = env.caFile ? readFileSync(env.caFile, "utf8") : undefined;
  let orchestrator: Orchestrator;
  let swarms = env.registrar.swarms;
  let engines: EngineEndpoint[] = [];
  if (env.orchestrator === "swarm") {
    // Swarms (public host, port range) come from REGISTRAR_SWARMS_FILE with the engines.
    // Loaded only here: the Docker client is not needed by the local orchestrator.
    const { swarmOrchestratorFromEnv } =
      require("./orchestrator/swarm/from-env") as typeof import("./orchestrator/swarm/from-env");
    const swarm = swarmOrchestratorFromEnv();
    orchestrator = swarm.orchestrator;
    swarms = swarm.swarms;
    engines = swarm.engines;
  } else {
    if (!env.certFile || !env.keyFile)
      throw new Error("the local orchestrator needs REGISTRAR_CERT_FILE and REGISTRAR_KEY_FILE");
    orchestrator = new LocalOrchestrator({
      home: env.atserversHome,
      certFile: env.certFile,
      keyFile: env.keyFile,
      caFile: env.caFile,
      rootAddress: env.root,
      atserverBin: env.atserverBin,
    });
  }
  const records = env.directoryFile
    ? new FileRecordWriter(env.directoryFile)
    : new RedisRecordWriter(env.directoryRedis!);
  const [rootHost, rootPort] = env.root.split(":");
  const registrar = await Registrar.create(
    { ...env.registrar, swarms },
    {
      orchestrator,
      records,
      healthProbe: infoBriefProbe({ ca }),
      rootResolver: rootResolver({ host: rootHost!, port: Number(rootPort), ca }),
      mailer: env.smtp ? new SmtpMailer(env.smtp) : new LogMailer(undefined, env.mailToLog),
      prober: proberDeps({
        root: env.root,
        ca,
        publicUrl: env.registrar.publicUrl,
        engines,
        timeoutMs: env.registrar.probe.timeoutMs,
      }),
    },
  );
  await registrar.start();
  process.stdout.write(`registrar listening on ${registrar.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, "stopping");
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void registrar.stop().then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
