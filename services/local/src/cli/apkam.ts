// APKAM from the CLI, as at_activate offers it (Part B §3.26-3.28, §5.4): a new device asks
// with a one-time code, the owner approves, the device receives the atSign's keys.
import { existsSync } from "node:fs";
import {
  aesDecrypt,
  aesEncrypt,
  AtError,
  generateAesKey,
  generateRsaKeyPair,
  rsaDecrypt,
  rsaEncrypt,
  type AtClient,
  type AtKeys,
} from "@atplatform/protocol/src/core";
import { atSignArg, flag, intFlag, UsageError, type Args } from "./args";
import { authenticated, connectTo, keysFile, type CliContext } from "./context";
import { KeysFileExistsError, writeNewKeysFile } from "./keys-file";

/** `wavi:rw,buzz:r` → {"wavi":"rw","buzz":"r"} */
export function parseNamespaces(text: string | undefined): Record<string, string> {
  if (!text) throw new UsageError("missing --namespaces (e.g. --namespaces wavi:rw,buzz:r)");
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const m = /^([A-Za-z0-9_.-]+):(r|rw)$/.exec(part.trim());
    if (!m) throw new UsageError(`--namespaces: "${part}" is not namespace:r or namespace:rw`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function word(args: Args, name: string): string {
  const v = flag(args, name);
  if (!v) throw new UsageError(`missing --${name}`);
  if (!/^[A-Za-z0-9_-]+$/.test(v))
    throw new UsageError(`--${name} takes letters, digits, '_' and '-', got "${v}"`);
  return v;
}

async function owner<T>(
  ctx: CliContext,
  atSign: string,
  run: (c: AtClient, keys: AtKeys) => Promise<T>,
): Promise<T> {
  const { client, keys } = await authenticated(ctx, atSign);
  try {
    return await run(client, keys);
  } finally {
    await client.close();
  }
}

/** `otp @alice`: a one-time code (5 minutes, single use) for `enroll` on a new device. */
export async function otp(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  ctx.out(await owner(ctx, me, (c) => c.execute("otp:get")));
}

/**
 * `enroll @alice --app A --device D --namespaces ns:rw,… --otp CODE [--timeout S]`: asks,
 * then waits for the owner's approval and writes this device's keys file.
 */
export async function enroll(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const appName = word(args, "app");
  const deviceName = word(args, "device");
  const namespaces = parseNamespaces(flag(args, "namespaces"));
  const code = flag(args, "otp");
  if (!code) throw new UsageError("missing --otp (the owner runs `atplatform otp @alice`)");
  const timeoutS = intFlag(args, "timeout", 300, 1, 86_400);
  const force = args.flags.force === true;
  const file = keysFile(ctx, me);
  if (!force && existsSync(file)) throw new KeysFileExistsError(file);

  const apkam = generateRsaKeyPair();
  const symmetric = generateAesKey();
  const anon = await connectTo(ctx, me);
  let enrollmentId: string;
  let encryptPublicKey: string;
  try {
    encryptPublicKey = await anon.execute(`lookup:publickey${me}`);
    const reply = JSON.parse(
      await anon.execute(
        `enroll:request:${JSON.stringify({
          appName,
          deviceName,
          namespaces,
          otp: code,
          apkamPublicKey: apkam.publicKey,
          encryptedAPKAMSymmetricKey: rsaEncrypt(symmetric, encryptPublicKey),
        })}`,
      ),
    ) as { enrollmentId: string; status: string };
    enrollmentId = reply.enrollmentId;
  } finally {
    await anon.close();
  }
  ctx.out(`enrollment ${enrollmentId} pending; the owner runs:`);
  ctx.out(`  atplatform approve ${me} ${enrollmentId}`);

  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const client = await connectTo(ctx, me);
    try {
      await client.pkam(apkam.privateKey, { enrollmentId });
      const fetchKey = async (name: string): Promise<string> => {
        const json = await client.execute(`keys:get:keyName:${enrollmentId}.${name}.__manage${me}`);
        return aesDecrypt((JSON.parse(json) as { value: string }).value, symmetric);
      };
      const encryptPrivateKey = await fetchKey("default_enc_private_key");
      const selfEncryptionKey = await fetchKey("default_self_enc_key");
      writeNewKeysFile(
        file,
        {
          selfEncryptionKey,
          pkamPublicKey: apkam.publicKey,
          pkamPrivateKey: apkam.privateKey,
          encryptPublicKey,
          encryptPrivateKey,
          extra: { enrollmentId, apkamSymmetricKey: symmetric },
        },
        force,
        ctx.out,
      );
      ctx.out(`approved; keys for ${me} (${appName} on ${deviceName}) written to ${file}`);
      return;
    } catch (err) {
      if (!(err instanceof AtError && err.code === "AT0026")) throw err;
    } finally {
      await client.close();
    }
    if (Date.now() > deadline)
      throw new Error(`enrollment ${enrollmentId} still pending after ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function enrollmentIdArg(args: Args): string {
  const id = args.positional[1];
  if (!id) throw new UsageError("missing enrollment id (see `atplatform list @alice`)");
  if (!/^[A-Za-z0-9-]+$/.test(id)) throw new UsageError(`invalid enrollment id ${id}`);
  return id;
}

/** `approve @alice ID`: hands the requester the atSign's keys, encrypted for it alone. */
export async function approve(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const enrollmentId = enrollmentIdArg(args);
  await owner(ctx, me, async (c, keys) => {
    const rec = JSON.parse(await c.execute(`enroll:fetch:${JSON.stringify({ enrollmentId })}`)) as {
      encryptedAPKAMSymmetricKey: string;
    };
    const symmetric = rsaDecrypt(rec.encryptedAPKAMSymmetricKey, keys.encryptPrivateKey);
    const reply = await c.execute(
      `enroll:approve:${JSON.stringify({
        enrollmentId,
        encryptedDefaultEncryptionPrivateKey: aesEncrypt(keys.encryptPrivateKey, symmetric),
        encryptedDefaultSelfEncryptionKey: aesEncrypt(keys.selfEncryptionKey, symmetric),
      })}`,
    );
    ctx.out(`${enrollmentId}: ${(JSON.parse(reply) as { status: string }).status}`);
  });
}

async function transition(ctx: CliContext, args: Args, op: "deny" | "revoke"): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const enrollmentId = enrollmentIdArg(args);
  await owner(ctx, me, async (c) => {
    const reply = await c.execute(`enroll:${op}:${JSON.stringify({ enrollmentId })}`);
    ctx.out(`${enrollmentId}: ${(JSON.parse(reply) as { status: string }).status}`);
  });
}

/** `deny @alice ID` */
export const deny = (ctx: CliContext, args: Args): Promise<void> => transition(ctx, args, "deny");
/** `revoke @alice ID`: the device's live connections are closed; its keys stop working. */
export const revoke = (ctx: CliContext, args: Args): Promise<void> =>
  transition(ctx, args, "revoke");

/** `list @alice`: every enrollment with its app, device, namespaces and state. */
export async function list(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  await owner(ctx, me, async (c) => {
    const all = JSON.parse(await c.execute("enroll:list")) as Record<
      string,
      { appName: string; deviceName: string; namespace: Record<string, string>; status?: string }
    >;
    for (const [key, e] of Object.entries(all)) {
      const ns = Object.entries(e.namespace ?? {})
        .map(([n, a]) => `${n}:${a}`)
        .join(",");
      ctx.out(`${key.split(".")[0]}  ${e.status ?? "?"}  ${e.appName}/${e.deviceName}  ${ns}`);
    }
  });
}
