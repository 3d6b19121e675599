// The `.atKeys` file as the official SDKs read and write it (Part C §1.7): a JSON object
// with the self encryption key in clear and four DER keys encrypted with it.
import { readFileSync, writeFileSync } from "node:fs";
import { aesDecrypt, aesEncrypt } from "./crypto";

export interface AtKeys {
  /** base64 of 32 raw AES bytes */
  selfEncryptionKey: string;
  /** base64 DER SPKI / PKCS#8 */
  pkamPublicKey: string;
  pkamPrivateKey: string;
  encryptPublicKey: string;
  encryptPrivateKey: string;
  /** Fields other SDKs add (`apkamSymmetricKey`, `enrollmentId`, …), kept verbatim. */
  extra?: Record<string, string>;
}

const ENCRYPTED_FIELDS = {
  aesPkamPublicKey: "pkamPublicKey",
  aesPkamPrivateKey: "pkamPrivateKey",
  aesEncryptPublicKey: "encryptPublicKey",
  aesEncryptPrivateKey: "encryptPrivateKey",
} as const;

/** The file's text: 4-space-indented JSON, key fields AES-CTR encrypted with the self key. */
export function formatAtKeys(keys: AtKeys): string {
  const out: Record<string, string> = {};
  for (const [fileField, prop] of Object.entries(ENCRYPTED_FIELDS)) {
    out[fileField] = aesEncrypt(keys[prop], keys.selfEncryptionKey);
  }
  out.selfEncryptionKey = keys.selfEncryptionKey;
  Object.assign(out, keys.extra ?? {});
  return JSON.stringify(out, null, 4);
}

export function parseAtKeys(text: string): AtKeys {
  const json = JSON.parse(text) as Record<string, unknown>;
  const self = json.selfEncryptionKey;
  if (typeof self !== "string") throw new Error(".atKeys file has no selfEncryptionKey");
  const keys: Partial<AtKeys> & { extra: Record<string, string> } = {
    selfEncryptionKey: self,
    extra: {},
  };
  for (const [fileField, prop] of Object.entries(ENCRYPTED_FIELDS)) {
    const v = json[fileField];
    if (typeof v !== "string") throw new Error(`.atKeys file has no ${fileField}`);
    keys[prop] = aesDecrypt(v, self);
  }
  for (const [k, v] of Object.entries(json)) {
    if (k !== "selfEncryptionKey" && !(k in ENCRYPTED_FIELDS) && typeof v === "string") {
      keys.extra[k] = v;
    }
  }
  return keys as AtKeys;
}

export function readAtKeys(path: string): AtKeys {
  return parseAtKeys(readFileSync(path, "utf8"));
}

export function writeAtKeys(path: string, keys: AtKeys): void {
  writeFileSync(path, formatAtKeys(keys), { mode: 0o600 });
}
