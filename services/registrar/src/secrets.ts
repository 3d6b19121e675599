import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** Constant-time comparison of two secrets of any length (hashing first equalises lengths). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function hmac(key: string, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** A six-digit one-time code. */
export function oneTimeCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}

export function activationKey(): string {
  return randomBytes(12).toString("hex");
}
