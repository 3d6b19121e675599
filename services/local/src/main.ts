// `npm start` (= `atplatform start`) and the `atplatform` CLI.
import { flag, parseArgs, USAGE, UsageError } from "./cli/args";

const NOTES: Record<string, string> = {
  start: "run the local platform (directory, registrar, atServers)",
  status: "is the platform running; root, registrar, and a summary from the metrics endpoints",
  register: "get an atSign from the registrar and onboard it",
  onboard: "CRAM with the secret (@alice:SECRET or SECRET) from a file (- = stdin), then PKAM",
  lookup: "where the root says @alice's atServer is (exit 1 when unknown)",
  notify: "encrypted update notification from @alice to @bob",
  monitor: "prints notifications that arrive from the moment the command starts",
  otp: "a one-time code (5 minutes) for enroll on a new device",
  enroll: "a new device asks for access; waits for approval, then writes its keys file",
  list: "enrollments: id, state, app/device, namespaces",
  admin:
    "the registrar's admin API; key from --admin-key-file, $REGISTRAR_ADMIN_KEY or <home>/admin-key",
};

const HELP = `Usage: atplatform <command> [arguments] [--home DIR] [--root host:port] [--ca FILE] [--keys DIR]

${Object.entries(USAGE)
  .map(([cmd, line]) => `  ${line}${NOTES[cmd] ? `\n      ${NOTES[cmd]}` : ""}`)
  .join("\n")}

  --version, --help                       this program's version, this text

The CLI finds a running platform through $ATPLATFORM_HOME/platform.json (default
~/.atplatform); --registrar URL and --keys DIR override the rest. Keys files go to
$ATPLATFORM_HOME/keys (not ~/.atsign/keys, where real atSigns live) and are never
overwritten without --force.
`;

function version(): string {
  return (require("../package.json") as { version: string }).version;
}

export async function main(argv: string[]): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  let command: string | undefined;
  try {
    const args = parseArgs(argv);
    command = args.positional.shift();
    if (args.flags.version) return out(`atplatform ${version()}`);
    if (!command || command === "help" || args.flags.help) {
      const line = command ? USAGE[command] : undefined;
      out(
        line ? `Usage: atplatform ${line}${NOTES[command!] ? `\n  ${NOTES[command!]}` : ""}` : HELP,
      );
      return;
    }
    if (command === "start") {
      if (args.positional.length > 0)
        throw new UsageError(`unexpected argument ${args.positional[0]}`);
      return await start(flag(args, "home"), args.flags.demo === true);
    }
    if (command === "admin")
      return await (require("./cli/admin") as typeof import("./cli/admin")).admin(args, out);
    await runCli(command, args, out);
  } catch (err) {
    if (err instanceof UsageError) {
      const line = command ? USAGE[command] : undefined;
      process.stderr.write(
        `${err.message}\n${line ? `usage: atplatform ${line}` : "see: atplatform --help"}\n`,
      );
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
  // status works without a running platform (and says so), so it builds its own context.
  if (command === "status")
    return (require("./cli/status") as typeof import("./cli/status")).status(args, out);
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
    case "otp":
    case "enroll":
    case "list":
    case "approve":
    case "deny":
    case "revoke":
      return (require("./cli/apkam") as typeof import("./cli/apkam"))[command](ctx, args);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function start(home: string | undefined, demo: boolean): Promise<void> {
  if (home !== undefined) process.env.ATPLATFORM_HOME = home;
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
    // After the handlers: Ctrl-C while the demo atSigns are set up still stops cleanly.
    if (demo) {
      const { seedDemo } = require("./demo") as typeof import("./demo");
      seedDemo(platform, (l) => void process.stdout.write(`${l}\n`)).catch((err: unknown) =>
        process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    }
  });
}
