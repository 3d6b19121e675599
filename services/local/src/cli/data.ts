// put / get / delete / scan on the atSign's own atServer, with the SDK's key forms and
// encryption (Part C 1.9, 1.10).
import { aesDecrypt, aesEncrypt, lookupAtServer, rsaSign } from "@atplatform/protocol/src/core";
import { atSignArg, flag, UsageError, type Args } from "./args";
import { authenticated, type CliContext } from "./context";
import { sharedKeyFor, sharedKeyFrom } from "./shared-key";

function keyName(args: Args, index: number): string {
  const name = args.positional[index];
  if (!name) throw new UsageError("missing key name");
  if (/[\s@:]/.test(name)) throw new UsageError("give a key name without spaces, '@' or ':'");
  return name.toLowerCase();
}

/** `put @alice name value [--public | --shared-with @bob]` */
export async function put(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const name = keyName(args, 1);
  const value = args.positional.slice(2).join(" ");
  if (!value) throw new UsageError("missing value");
  const sharedWith = flag(args, "shared-with");
  const { client, keys } = await authenticated(ctx, me);
  try {
    let id: string;
    if (args.flags.public) {
      const sig = rsaSign(keys.encryptPrivateKey, value);
      id = await client.execute(`update:dataSignature:${sig}:public:${name}${me} ${value}`);
    } else if (sharedWith) {
      const other = atSignArg(sharedWith, "--shared-with atSign");
      const aes = await sharedKeyFor(client, keys, me, other);
      id = await client.execute(
        `update:isEncrypted:true:${other}:${name}${me} ${aesEncrypt(value, aes)}`,
      );
    } else {
      const sig = rsaSign(keys.encryptPrivateKey, value);
      const enc = aesEncrypt(value, keys.selfEncryptionKey);
      id = await client.execute(`update:dataSignature:${sig}:isEncrypted:true:${name}${me} ${enc}`);
    }
    ctx.out(`stored (commit ${id})`);
  } finally {
    await client.close();
  }
}

/** `get @alice name [--public] [--shared-with @bob | --from @bob]` */
export async function get(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const name = keyName(args, 1);
  const from = flag(args, "from");
  const sharedWith = flag(args, "shared-with");
  const { client, keys } = await authenticated(ctx, me);
  try {
    if (from) {
      const owner = atSignArg(from, "--from atSign");
      if (args.flags.public) {
        ctx.out(await client.execute(`plookup:${name}${owner}`));
      } else {
        const aes = await sharedKeyFrom(client, keys, owner);
        ctx.out(aesDecrypt(await client.execute(`lookup:${name}${owner}`), aes));
      }
    } else if (args.flags.public) {
      ctx.out(await client.execute(`llookup:public:${name}${me}`));
    } else if (sharedWith) {
      const other = atSignArg(sharedWith, "--shared-with atSign");
      const aes = await sharedKeyFor(client, keys, me, other);
      ctx.out(aesDecrypt(await client.execute(`llookup:${other}:${name}${me}`), aes));
    } else {
      ctx.out(aesDecrypt(await client.execute(`llookup:${name}${me}`), keys.selfEncryptionKey));
    }
  } finally {
    await client.close();
  }
}

/** `delete @alice name [--public | --shared-with @bob]` */
export async function del(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const name = keyName(args, 1);
  const sharedWith = flag(args, "shared-with");
  const key = args.flags.public
    ? `public:${name}${me}`
    : sharedWith
      ? `${atSignArg(sharedWith, "--shared-with atSign")}:${name}${me}`
      : `${name}${me}`;
  const { client } = await authenticated(ctx, me);
  try {
    ctx.out(`deleted ${key} (commit ${await client.execute(`delete:${key}`)})`);
  } finally {
    await client.close();
  }
}

/** `scan @alice [regex]` */
export async function scan(ctx: CliContext, args: Args): Promise<void> {
  const me = atSignArg(args.positional[0], "atSign");
  const regex = args.positional[1];
  const { client } = await authenticated(ctx, me);
  try {
    const payload = await client.execute(
      regex ? `scan:showHidden:true ${regex}` : "scan:showHidden:true",
    );
    const keys = payload ? (JSON.parse(payload) as string[]) : [];
    for (const k of keys) ctx.out(k);
  } finally {
    await client.close();
  }
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** `lookup @alice`: where the root says the atSign's atServer is. */
export async function lookup(ctx: CliContext, args: Args): Promise<void> {
  const atSign = atSignArg(args.positional[0], "atSign");
  const addr = await lookupAtServer(atSign, { ...ctx.root, ca: ctx.ca });
  if (!addr) throw new NotFoundError(`the root does not know ${atSign}`);
  ctx.out(`${addr.host}:${addr.port}`);
}
