// The `atdirectory` command: parse flags and environment, run a DirectoryServer,
// SIGTERM/SIGINT drain and exit, SIGHUP reloads the records file and the certificate.
import { helpText, parseArgs } from "./config";
import { DirectoryServer } from "./server";

export async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv, process.env);
  if (parsed.help || !parsed.config) {
    process.stdout.write(helpText());
    return;
  }
  const server = await DirectoryServer.create(parsed.config);
  await server.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, "shutting down");
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        server.log.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => void server.reload());
}
