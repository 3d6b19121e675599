// Crypto helpers as the reference and the SDKs use them (Part B §5, Part C §1.8).
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  ECDH,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";

/** Lower-case hex SHA-512 of the secret immediately followed by the challenge (CRAM). */
export function cramDigest(secret: string, challenge: string): string {
  return createHash("sha512")
    .update(secret + challenge, "utf8")
    .digest("hex");
}

export type SigningAlgo = "rsa2048" | "ecc_secp256r1";
export type HashingAlgo = "sha256" | "sha512";

/** A public key from base64 DER SubjectPublicKeyInfo or PEM. */
export function publicKeyFrom(text: string): KeyObject {
  const t = text.trim();
  if (t.startsWith("-----")) return createPublicKey(t);
  return createPublicKey({ key: Buffer.from(t, "base64"), format: "der", type: "spki" });
}

/** A private key from base64 DER PKCS#8 or PEM. */
export function privateKeyFrom(text: string): KeyObject {
  const t = text.trim();
  if (t.startsWith("-----")) return createPrivateKey(t);
  return createPrivateKey({ key: Buffer.from(t, "base64"), format: "der", type: "pkcs8" });
}

/** P-256 public key from the hex EC point (uncompressed `04…` or compressed). */
export function ecPublicKeyFromHex(hex: string): KeyObject {
  let point: Buffer = Buffer.from(hex, "hex");
  if (point.length === 33) {
    point = ECDH.convertKey(point, "prime256v1", undefined, undefined, "uncompressed") as Buffer;
  }
  if (point.length !== 65 || point[0] !== 4) throw new Error("not a P-256 point");
  return createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33).toString("base64url"),
    },
    format: "jwk",
  });
}

/** Hex of the uncompressed EC point of a P-256 key (what clients store for ECC PKAM). */
export function ecPublicKeyHex(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const x = Buffer.from(jwk.x!, "base64url");
  const y = Buffer.from(jwk.y!, "base64url");
  return Buffer.concat([Buffer.from([4]), x, y]).toString("hex");
}

export interface PkamCheck {
  /** As stored: base64 SPKI for RSA, EC point hex for ECC. */
  publicKey: string;
  /** The `pkam:` signature field (base64). */
  signature: string;
  challenge: string;
  signingAlgo?: SigningAlgo;
  hashingAlgo?: HashingAlgo;
}

/** True when the PKAM signature verifies; false (never throws) otherwise. */
export function verifyPkam(c: PkamCheck): boolean {
  try {
    const data = Buffer.from(c.challenge.trim(), "utf8");
    if (c.signingAlgo === "ecc_secp256r1") {
      // The field is base64 of the ASCII hex of r‖s; the message hash is always SHA-256.
      const hex = Buffer.from(c.signature, "base64").toString("ascii").trim();
      if (!/^[0-9a-fA-F]{128}$/.test(hex)) return false;
      const key = ecPublicKeyFromHex(c.publicKey.trim());
      return verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, Buffer.from(hex, "hex"));
    }
    const key = publicKeyFrom(c.publicKey);
    return verify(c.hashingAlgo ?? "sha256", data, key, Buffer.from(c.signature, "base64"));
  } catch {
    return false;
  }
}

/** The `pkam:` signature a client sends (RSA PKCS#1 v1.5 or ECDSA P-256 as above). */
export function signPkam(
  privateKey: string | KeyObject,
  challenge: string,
  opts: { signingAlgo?: SigningAlgo; hashingAlgo?: HashingAlgo } = {},
): string {
  const key = typeof privateKey === "string" ? privateKeyFrom(privateKey) : privateKey;
  const data = Buffer.from(challenge.trim(), "utf8");
  if (opts.signingAlgo === "ecc_secp256r1") {
    const sig = sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    return Buffer.from(sig.toString("hex"), "ascii").toString("base64");
  }
  return sign(opts.hashingAlgo ?? "sha256", data, key).toString("base64");
}

/** RSA PKCS#1 v1.5 SHA-256 signature, base64 (data signatures, pol proofs). */
export function rsaSign(privateKey: string | KeyObject, text: string): string {
  const key = typeof privateKey === "string" ? privateKeyFrom(privateKey) : privateKey;
  return sign("sha256", Buffer.from(text, "utf8"), key).toString("base64");
}

export function rsaVerify(publicKey: string | KeyObject, text: string, signature: string): boolean {
  try {
    const key = typeof publicKey === "string" ? publicKeyFrom(publicKey) : publicKey;
    return verify("sha256", Buffer.from(text, "utf8"), key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

export interface Base64KeyPair {
  /** base64 DER SubjectPublicKeyInfo */
  publicKey: string;
  /** base64 DER PKCS#8 */
  privateKey: string;
}

/** RSA-2048, e = 65537, as base64 DER (SPKI / PKCS#8). */
export function generateRsaKeyPair(): Base64KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicExponent: 65537,
  });
  return {
    publicKey: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
    privateKey: privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
  };
}

/** 32 random bytes, base64 (an AES-256 key). */
export function generateAesKey(): string {
  return randomBytes(32).toString("base64");
}

function pkcs7Pad(data: Buffer): Buffer {
  const n = 16 - (data.length % 16);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

function pkcs7Unpad(data: Buffer): Buffer {
  const n = data[data.length - 1];
  if (n === undefined || n < 1 || n > 16 || n > data.length) throw new Error("bad padding");
  for (let i = data.length - n; i < data.length; i++) {
    if (data[i] !== n) throw new Error("bad padding");
  }
  return data.subarray(0, data.length - n);
}

const ZERO_IV = Buffer.alloc(16);

/** AES-256-CTR over the PKCS#7-padded UTF-8 text; base64. IV: 16 zero bytes unless given (base64). */
export function aesEncrypt(plainText: string, keyBase64: string, ivBase64?: string): string {
  const iv = ivBase64 ? Buffer.from(ivBase64, "base64") : ZERO_IV;
  const c = createCipheriv("aes-256-ctr", Buffer.from(keyBase64, "base64"), iv);
  return Buffer.concat([c.update(pkcs7Pad(Buffer.from(plainText, "utf8"))), c.final()]).toString(
    "base64",
  );
}

export function aesDecrypt(cipherBase64: string, keyBase64: string, ivBase64?: string): string {
  const iv = ivBase64 ? Buffer.from(ivBase64, "base64") : ZERO_IV;
  const d = createDecipheriv("aes-256-ctr", Buffer.from(keyBase64, "base64"), iv);
  const padded = Buffer.concat([d.update(Buffer.from(cipherBase64, "base64")), d.final()]);
  return pkcs7Unpad(padded).toString("utf8");
}

/** RSA PKCS#1 v1.5 encryption of UTF-8 text for a base64 SPKI public key; base64. */
export function rsaEncrypt(plainText: string, publicKey: string): string {
  return publicEncrypt(
    { key: publicKeyFrom(publicKey), padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(plainText, "utf8"),
  ).toString("base64");
}

export function rsaDecrypt(cipherBase64: string, privateKey: string): string {
  // Node refuses PKCS#1 v1.5 decryption (CVE-2023-46809), so unpad by hand. This is for
  // clients reading their own shared keys, never for a server answering oracle queries.
  const key = privateKeyFrom(privateKey);
  const raw = privateDecrypt(
    { key, padding: constants.RSA_NO_PADDING },
    Buffer.from(cipherBase64, "base64"),
  );
  const sep = raw.indexOf(0, 2);
  if (raw[0] !== 0 || raw[1] !== 2 || sep < 10) throw new Error("RSA decryption failed");
  return raw.subarray(sep + 1).toString("utf8");
}
