// `npm start` (= `atplatform start`) and the `atplatform` CLI.
import { parseArgs, UsageError } from "./cli/args";

const HELP = `Usage: atplatform <command> [arguments] [--home DIR] [--root host:port] [--ca FILE]

  start                                   run the local platform (directory, registrar, atServers)
  status                                  is the root answering, is the registrar up
  register [@name] [--email E [--otp N]] [--no-onboard]
                                          get an atSign from the registrar and onboard it
  onboard @alice --cram-file FILE|-       CRAM with the secret from a file (- = stdin), then PKAM
                                          keys; writes ~/.atsign/keys/@alice_key.atKeys
  lookup @alice                           where the root says @alice's atServer is
  put @alice name value [--public | --shared-with @bob]
  get @alice name [--public] [--shared-with @bob | --from @bob]
  delete @alice name [--public | --shared-with @bob]
  scan @alice [regex]
  notify @alice @bob name value           encrypted update notification from @alice to @bob
  monitor @bob [regex] [--count N] [--timeout SECONDS] [--since EPOCH_MS]

The CLI finds a running platform through $ATPLATFORM_HOME/platform.json (default
~/.atplatform); --registrar URL, --api-key KEY and --keys DIR override the rest.
`;

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const command = args.positional.shift();
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  if (!command || command === "help" || args.flags.help) {
    out(HELP);
    return;
  }
  if (command === "start") return start();
  try {
    await runCli(command, args, out);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${HELP}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

async function runCli(
  command: string,
  args: ReturnType<typeof parseArgs>,
  out: (line: string) => void,
): Promise<void> {
  const { cliContext } = require("./cli/context") as typeof import("./cli/context");
  const ctx = cliContext(args, out);
  switch (command) {
    case "register":
      return (require("./cli/register") as typeof import("./cli/register")).register(ctx, args);
    case "onboard":
      return (require("./cli/register") as typeof import("./cli/register")).onboard(ctx, args);
    case "lookup":
      return (require("./cli/data") as typeof import("./cli/data")).lookup(ctx, args);
    case "put":
      return (require("./cli/data") as typeof import("./cli/data")).put(ctx, args);
    case "get":
      return (require("./cli/data") as typeof import("./cli/data")).get(ctx, args);
    case "delete":
      return (require("./cli/data") as typeof import("./cli/data")).del(ctx, args);
    case "scan":
      return (require("./cli/data") as typeof import("./cli/data")).scan(ctx, args);
    case "notify":
      return (require("./cli/notify") as typeof import("./cli/notify")).notify(ctx, args);
    case "monitor":
      return (require("./cli/notify") as typeof import("./cli/notify")).monitor(ctx, args);
    case "status":
      return (require("./cli/status") as typeof import("./cli/status")).status(ctx, args);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function start(): Promise<void> {
  // Quiet services by default so the banner and one-time codes stay readable.
  process.env.LOG_LEVEL ??= "warn";
  const { localConfigFromEnv } = require("./config") as typeof import("./config");
  const { LocalPlatform } = require("./platform") as typeof import("./platform");
  const platform = new LocalPlatform(localConfigFromEnv());
  await platform.start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`\n${signal}: stopping the atPlatform…\n`);
      platform.stop().then(
        () => {
          process.stdout.write("stopped.\n");
          resolve();
        },
        (err: unknown) => {
          process.stderr.write(`error while stopping: ${String(err)}\n`);
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
