// notify and monitor (Part C 1.11, 1.12).
import { randomBytes, randomUUID } from "node:crypto";
import { aesDecrypt, aesEncrypt, type MonitorNotification } from "@atplatform/protocol/src/core";
import { atSignArg, intFlag, UsageError, type Args } from "./args";
import { authenticated, type CliContext } from "./context";
import { sharedKeyFor, sharedKeyFrom } from "./shared-key";

/** `notify @alice @bob name value`: an encrypted update notification from alice to bob. */
export async function notify(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "sender atSign");
  const to = atSignArg(args.positional[1], "recipient atSign");
  const name = args.positional[2];
  const value = args.positional.slice(3).join(" ");
  if (!name || /[\s@:]/.test(name) || !value)
    throw new UsageError("usage: notify @me @them name value");
  const { client, keys } = await authenticated(ctx, me);
  try {
    const aes = await sharedKeyFor(client, keys, me, to);
    const iv = randomBytes(16).toString("base64");
    const id = randomUUID();
    const sent = await client.execute(
      `notify:id:${id}:update:isEncrypted:true:ivNonce:${iv}:${to}:${name.toLowerCase()}${me}:${aesEncrypt(value, aes, iv)}`,
    );
    ctx.out(`notification ${sent} sent to ${to}`);
  } finally {
    await client.close();
  }
}

/**
 * `monitor @bob [regex] [--count N] [--timeout SECONDS] [--since EPOCH_MS]`: prints
 * notifications, decrypted: those since this process started, or since --since (0 = all stored).
 */
export async function monitor(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const regex = args.positional[1] ?? ".*";
  const count = intFlag(args, "count", 0);
  const timeoutS = intFlag(args, "timeout", 0, 0, 2_147_483);
  // Without --since, a replay from the moment this process started: what is sent while the
  // monitor is still connecting (`monitor … &` then `notify …` at once) is not missed.
  const since = intFlag(args, "since", Math.floor(performance.timeOrigin));
  const { client, keys } = await authenticated(ctx, me);
  // Shared keys are fetched on a second connection: the monitor one only streams.
  const { client: lookups } = await authenticated(ctx, me);
  const sharedKeys = new Map<string, string>();
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = timeoutS > 0 ? setTimeout(() => done(), timeoutS * 1000) : undefined;
    const onSignal = (): void => done();
    function done(err?: Error): void {
      if (timer) clearTimeout(timer);
      process.off("SIGINT", onSignal);
      client.off("notification", onNotification);
      if (err) reject(err);
      else resolve();
    }
    async function render(n: MonitorNotification): Promise<string> {
      const m = /^(@[^:]+):(.+)(@[^@]+)$/.exec(n.key);
      const iv = (n.metadata?.ivNonce as string | undefined) ?? undefined;
      if (
        n.operation === "update" &&
        n.value &&
        m &&
        n.isEncrypted &&
        !n.key.includes("shared_key")
      ) {
        // Auto-notified shared updates carry no ivNonce: their value uses the zero IV.
        const owner = m[3]!;
        let aes = sharedKeys.get(owner);
        if (!aes) {
          aes = await sharedKeyFrom(lookups, keys, owner);
          sharedKeys.set(owner, aes);
        }
        return `${n.from} → ${n.key}: ${aesDecrypt(n.value, aes, iv)}`;
      }
      return `${n.from} → ${n.key} (${n.operation})`;
    }
    function onNotification(n: MonitorNotification): void {
      if (n.id === "-1") return; // stats heartbeat
      // Shared-key updates arrive as notifications too; they are shown, not counted.
      const counts = !n.key.includes("shared_key");
      render(n).then(
        (line) => {
          ctx.out(line);
          if (counts && count > 0 && ++seen >= count) done();
        },
        (err: Error) => ctx.out(`${n.key}: could not decrypt (${err.message})`),
      );
    }
    process.on("SIGINT", onSignal);
    client.on("notification", onNotification);
    client.once("close", () => done(new Error("monitor connection closed")));
    client.monitor(regex, since);
  }).finally(async () => {
    await client.close();
    await lookups.close();
  });
}
