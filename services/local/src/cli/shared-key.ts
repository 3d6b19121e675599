// The alice→bob shared AES key, exactly as at_python creates and finds it (Part C 1.9).
import {
  AtError,
  generateAesKey,
  rsaDecrypt,
  rsaEncrypt,
  type AtClient,
  type AtKeys,
} from "@atplatform/protocol/src/core";

function bare(atSign: string): string {
  return atSign.replace(/^@/, "");
}

export function isNotFound(err: unknown): boolean {
  return err instanceof AtError && err.code === "AT0015";
}

/** My copy of the key I share with `other`, created (and given to them) the first time. */
export async function sharedKeyFor(
  client: AtClient,
  keys: AtKeys,
  me: string,
  other: string,
): Promise<string> {
  try {
    const mine = await client.execute(`llookup:shared_key.${bare(other)}${me}`);
    return rsaDecrypt(mine, keys.encryptPrivateKey);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  let theirPublicKey: string;
  try {
    theirPublicKey = await client.execute(`plookup:publickey${other}`);
  } catch (err) {
    if (err instanceof AtError && (err.code === "AT0015" || err.code === "AT0011"))
      throw new Error(`${other} is not onboarded yet`, { cause: err });
    throw err;
  }
  const aes = generateAesKey();
  await client.execute(
    `update:shared_key.${bare(other)}${me} ${rsaEncrypt(aes, keys.encryptPublicKey)}`,
  );
  await client.execute(
    `update:ttr:86400000:${other}:shared_key${me} ${rsaEncrypt(aes, theirPublicKey)}`,
  );
  return aes;
}

/** The key `owner` shares with me, read through my own atServer. */
export async function sharedKeyFrom(
  client: AtClient,
  keys: AtKeys,
  owner: string,
): Promise<string> {
  const enc = await client.execute(`lookup:shared_key${owner}`);
  return rsaDecrypt(enc, keys.encryptPrivateKey);
}
