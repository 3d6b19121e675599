import type { IncomingMessage } from "node:http";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors";

export type Fields = Record<string, string>;

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      reject(new PayloadTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Reads a JSON object body; values that are not strings, numbers or booleans are dropped. */
export async function readJson(
  req: IncomingMessage,
  limit: number,
): Promise<Record<string, unknown>> {
  if (mediaType(req) !== "application/json")
    throw new UnsupportedMediaTypeError("application/json");
  const raw = await readRaw(req, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new BadRequestError("body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new BadRequestError("body must be a JSON object");
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  return out;
}

/** Reads an HTML form body (application/x-www-form-urlencoded). */
export async function readForm(req: IncomingMessage, limit: number): Promise<Fields> {
  if (mediaType(req) !== "application/x-www-form-urlencoded")
    throw new UnsupportedMediaTypeError("application/x-www-form-urlencoded");
  const raw = await readRaw(req, limit);
  const out: Fields = Object.create(null);
  for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) {
    if (!(k in out)) out[k] = v;
  }
  return out;
}

export function cookies(req: IncomingMessage): Fields {
  const out: Fields = Object.create(null);
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    try {
      out[name] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      /* ignore malformed cookie values */
    }
  }
  return out;
}

export function str(fields: Record<string, unknown>, name: string): string | undefined {
  const v = fields[name];
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

export function bool(fields: Record<string, unknown>, name: string): boolean {
  const v = fields[name];
  return v === true || v === "true" || v === "on" || v === "1";
}
