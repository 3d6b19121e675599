// `register` (registrar API, Part C) and `onboard` (CRAM, then PKAM keys and .atKeys).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline/promises";
import {
  generateAesKey,
  generateRsaKeyPair,
  writeAtKeys,
  type AtKeys,
} from "@atplatform/protocol/src/core";
import { atSignArg, flag, UsageError, type Args } from "./args";
import { connectTo, keysFile, type CliContext } from "./context";

async function call(ctx: CliContext, method: string, path: string, body?: unknown): Promise<any> {
  if (!ctx.registrarUrl)
    throw new UsageError("no registrar URL: run `npm start` or pass --registrar");
  if (!ctx.apiKey) throw new UsageError("no API key: set REGISTRAR_API_KEY or pass --api-key");
  const res = await fetch(ctx.registrarUrl + path, {
    method,
    headers: { "Content-Type": "application/json", Authorization: ctx.apiKey },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`registrar answered ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(`registrar answered ${res.status}: ${json.message ?? text}`);
  return json;
}

function secretOf(cramkey: string): string {
  return cramkey.slice(cramkey.indexOf(":") + 1);
}

/** `register [@name] [--email E [--otp CODE]] [--no-onboard]` */
export async function register(ctx: CliContext, args: Args): Promise<void> {
  const wanted = args.positional[0] ? atSignArg(args.positional[0], "atSign") : "";
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
  if (args.flags["no-onboard"]) {
    // Never suggest the secret on a command line (shell history, `ps`): a 0600 file instead.
    const file = cramFile(ctx, atSign);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${secretOf(cramkey)}\n`, { mode: 0o600 });
    ctx.out(`activation secret written to ${file} (mode 0600; single use)`);
    ctx.out(`next: npx atplatform onboard ${atSign} --cram-file ${file}`);
    return;
  }
  await onboardWith(ctx, atSign, secretOf(cramkey));
}

/** Where `register --no-onboard` leaves the secret: beside the keys. */
export function cramFile(ctx: CliContext, atSign: string): string {
  return join(ctx.keysDir, `${atSign}.cram`);
}

/** `onboard @alice --cram-file FILE|-` (or, discouraged, `--cram SECRET`/`--cramkey @a:S`) */
export async function onboard(ctx: CliContext, args: Args): Promise<void> {
  const atSign = atSignArg(args.positional[0], "atSign");
  const file = flag(args, "cram-file");
  const cramkey = flag(args, "cramkey");
  let secret = flag(args, "cram") ?? (cramkey ? secretOf(cramkey) : undefined);
  if (file !== undefined) {
    const text = (file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8")).trim();
    secret = text.includes(":") ? secretOf(text) : text;
  }
  if (!secret) throw new UsageError("onboard needs --cram-file FILE (or - for standard input)");
  await onboardWith(ctx, atSign, secret);
  // Spent: CRAM is off on the atServer now, so the file only leaks an old secret.
  if (file !== undefined && file !== "-" && file === cramFile(ctx, atSign)) rmSync(file);
}

/** Part C 1.6 step by step, on one connection. */
export async function onboardWith(
  ctx: CliContext,
  atSign: string,
  secret: string,
): Promise<string> {
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
    const file = keysFile(ctx, atSign);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeAtKeys(file, keys);
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
