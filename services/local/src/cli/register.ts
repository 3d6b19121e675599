// `register` (registrar API, Part C) and `onboard` (CRAM, then PKAM keys and .atKeys).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline/promises";
import { generateAesKey, generateRsaKeyPair, type AtKeys } from "@atplatform/protocol/src/core";
import { atSignArg, flag, UsageError, type Args } from "./args";
import { connectTo, keysFile, type CliContext } from "./context";
import { KeysFileExistsError, makeRoomForKeys, writeNewKeysFile } from "./keys-file";
import { registrarJson } from "./registrar-http";

async function call(ctx: CliContext, method: string, path: string, body?: unknown): Promise<any> {
  if (!ctx.registrarUrl)
    throw new UsageError("no registrar URL: run `npm start` or pass --registrar");
  if (!ctx.apiKey) throw new UsageError("no API key: set REGISTRAR_API_KEY or pass --api-key");
  return registrarJson(ctx.registrarUrl + path, method, ctx.apiKey, body);
}

function secretOf(cramkey: string): string {
  return cramkey.slice(cramkey.indexOf(":") + 1);
}

/**
 * The secret as the registrar shows it (`@alice:SECRET`, page and API) or bare; a secret
 * shown for another atSign is refused before it is sent anywhere.
 */
export function cramSecret(text: string, atSign: string): string {
  const t = text.trim();
  const colon = t.lastIndexOf(":");
  if (colon < 0) return t;
  const named = atSignArg(t.slice(0, colon), "atSign of the secret");
  if (named !== atSign)
    throw new UsageError(`that activation secret is for ${named}, not ${atSign}`);
  return t.slice(colon + 1);
}

/** `register [@name] [--email E [--otp CODE]] [--no-onboard]` */
export async function register(ctx: CliContext, args: Args): Promise<void> {
  const wanted = args.positional[0] ? atSignArg(args.positional[0], "atSign") : "";
  const force = args.flags.force === true;
  // Before the registrar hands out a secret for it.
  if (wanted && !force && !args.flags["no-onboard"] && existsSync(keysFile(ctx, wanted)))
    throw new KeysFileExistsError(keysFile(ctx, wanted));
  const email = flag(args, "email");
  let atSign: string;
  let cramkey: string;
  if (email) {
    atSign = wanted || (await call(ctx, "GET", "/api/app/v2/get-free-atsign")).data.atsign;
    await call(ctx, "POST", "/api/app/v2/register-person", { email, atsign: atSign });
    let otp = flag(args, "otp");
    if (!otp) {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      otp = (await rl.question(`One-time code sent to ${email}: `)).trim();
      rl.close();
    }
    let r = await call(ctx, "POST", "/api/app/v2/validate-person", {
      email,
      atsign: atSign,
      otp,
      confirmation: false,
    });
    if (r.newAtsign === atSign)
      r = await call(ctx, "POST", "/api/app/v2/validate-person", {
        email,
        atsign: atSign,
        otp,
        confirmation: true,
      });
    if (r.message !== "Verified") throw new Error(`registrar: ${r.message}`);
    cramkey = r.cramkey;
  } else {
    const q = new URLSearchParams({ atSign: wanted, ActivationKey: "" });
    const got = (await call(ctx, "GET", `/api/app/v3/get-atsign?${q}`)).value;
    atSign = got.atSign;
    const act = await call(ctx, "POST", "/api/app/v3/activate-atsign", {
      atSign: got.atSign,
      ActivationKey: got.ActivationKey,
    });
    cramkey = act.cramkey;
  }
  ctx.out(`registered ${atSign}`);
  // A free atSign whose name already has a keys file here: keep the secret for later.
  const blocked = !force && existsSync(keysFile(ctx, atSign));
  if (args.flags["no-onboard"] || blocked) {
    // Never suggest the secret on a command line (shell history, `ps`): a 0600 file instead.
    const file = cramFile(ctx, atSign);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    makeRoomForKeys(file, force);
    writeFileSync(file, `${secretOf(cramkey)}\n`, { mode: 0o600, flag: "wx" });
    ctx.out(`activation secret written to ${file} (mode 0600; single use)`);
    if (blocked) throw new KeysFileExistsError(keysFile(ctx, atSign));
    ctx.out(`next: npx atplatform onboard ${atSign} --cram-file ${file}`);
    return;
  }
  await onboardWith(ctx, atSign, secretOf(cramkey), force);
}

/** Where `register --no-onboard` leaves the secret: beside the keys. */
export function cramFile(ctx: CliContext, atSign: string): string {
  return join(ctx.keysDir, `${atSign}.cram`);
}

/** `onboard @alice --cram-file FILE|-` (or, discouraged, `--cram SECRET`/`--cramkey @a:S`) */
export async function onboard(ctx: CliContext, args: Args): Promise<void> {
  const atSign = atSignArg(args.positional[0], "atSign");
  const file = flag(args, "cram-file");
  let text = flag(args, "cram") ?? flag(args, "cramkey");
  if (file !== undefined)
    text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  const secret = text === undefined ? "" : cramSecret(text, atSign);
  if (!secret) throw new UsageError("onboard needs --cram-file FILE (or - for standard input)");
  await onboardWith(ctx, atSign, secret, args.flags.force === true);
  // Spent: CRAM is off on the atServer now, so the file only leaks an old secret.
  if (file !== undefined && file !== "-" && file === cramFile(ctx, atSign)) rmSync(file);
}

/** Part C 1.6 step by step, on one connection. */
export async function onboardWith(
  ctx: CliContext,
  atSign: string,
  secret: string,
  force = false,
): Promise<string> {
  const file = keysFile(ctx, atSign);
  // Checked before CRAM, so a refusal leaves the secret unspent.
  if (!force && existsSync(file)) throw new KeysFileExistsError(file);
  const client = await connectTo(ctx, atSign);
  try {
    await client.cram(secret);
    const pkam = generateRsaKeyPair();
    const enc = generateRsaKeyPair();
    const keys: AtKeys = {
      selfEncryptionKey: generateAesKey(),
      pkamPublicKey: pkam.publicKey,
      pkamPrivateKey: pkam.privateKey,
      encryptPublicKey: enc.publicKey,
      encryptPrivateKey: enc.privateKey,
    };
    writeNewKeysFile(file, keys, force, ctx.out);
    await client.execute(`update:privatekey:at_pkam_publickey ${keys.pkamPublicKey}`);
    await client.pkam(keys.pkamPrivateKey);
    await client.execute(`update:public:publickey${atSign} ${keys.encryptPublicKey}`);
    await client.execute("delete:privatekey:at_secret");
    ctx.out(`onboarded ${atSign}; keys written to ${file}`);
    return file;
  } finally {
    await client.close();
  }
}
