// `atserver`: parse flags/env, start, stop on SIGTERM/SIGINT.
import { ConfigError } from "./errors";
import { helpText, parseArgs, resolveConfig } from "./config";
import { AtServer } from "./server";

export async function main(argv: string[]): Promise<void> {
  let server: AtServer;
  try {
    const args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(`${helpText()}\n`);
      return;
    }
    server = AtServer.create(resolveConfig(args.values, process.env));
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(`atserver: ${err.message}`, { cause: err });
    throw err;
  }
  await server.start();
  const shutdown = (signal: string) => {
    server.log.server.info({ signal }, "shutting down");
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
