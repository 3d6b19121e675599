// `start --demo`: a few ready atSigns with keys files, like the reference's virtual
// environment, so an SDK developer can start at once. Names carry 🛠 as the reference's do, so
// they never collide with real atSigns (or their keys files).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CliContext } from "./cli/context";
import type { LocalPlatform } from "./platform";

export const DEMO_ATSIGNS = ["@alice🛠", "@bob🛠", "@colin🛠"];

/** Registers and onboards each demo atSign that has no keys file yet; returns the keys dir. */
export async function seedDemo(
  platform: LocalPlatform,
  print: (line: string) => void,
): Promise<string> {
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  const { register } = require("./cli/register") as typeof import("./cli/register");
  const { keysFile } = require("./cli/context") as typeof import("./cli/context");
  const info = platform.info!;
  const [host, port] = info.root.split(":");
  const ctx: CliContext = {
    root: { host: host!, port: Number(port) },
    ca: readFileSync(info.caFile, "utf8"),
    registrarUrl: info.registrarUrl,
    apiKey: platform.apiKey,
    keysDir: join(info.home, "keys"),
    out: () => {},
  };
  for (const atSign of DEMO_ATSIGNS) {
    if (existsSync(keysFile(ctx, atSign))) continue;
    try {
      await register(ctx, { positional: [atSign], flags: {} });
    } catch (err) {
      print(`demo: ${atSign} not ready: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  print(`Demo atSigns ready:  ${DEMO_ATSIGNS.join(" ")} (keys in ${ctx.keysDir})`);
  return ctx.keysDir;
}
