// Key metadata: the attributes a command may carry (Part B §3.0, §4.3), what the server
// derives from them, and the JSON shapes responses use (§4.4, §7).
import { InvalidSyntaxError } from "./errors";

export interface MetadataAttribute {
  /** Property name in MetadataInput / StoredMetadata. */
  name: keyof MetadataInput;
  /** Wire spellings; the first is the one we write. */
  wire: readonly string[];
  type: "int" | "bool" | "text";
  signed?: boolean;
}

/** Attributes a command may set (all optional). Text attributes may be the literal "null" (= clear). */
export interface MetadataInput {
  ttl?: number;
  ttb?: number;
  ttr?: number;
  ccd?: boolean;
  dataSignature?: string;
  sharedKeyStatus?: string;
  isBinary?: boolean;
  isEncrypted?: boolean;
  sharedKeyEnc?: string;
  pubKeyCS?: string;
  encoding?: string;
  encKeyName?: string;
  encAlgo?: string;
  ivNonce?: string;
  skeEncKeyName?: string;
  skeEncAlgo?: string;
  /** Newer clients' public-key hash: tolerated, ignored. */
  hash?: string;
  algo?: string;
}

/** The reference grammar's order (also the order we write them in). */
export const METADATA_ATTRIBUTES: readonly MetadataAttribute[] = [
  { name: "ttl", wire: ["ttl"], type: "int" },
  { name: "ttb", wire: ["ttb"], type: "int" },
  { name: "ttr", wire: ["ttr"], type: "int", signed: true },
  { name: "ccd", wire: ["ccd"], type: "bool" },
  { name: "dataSignature", wire: ["dataSignature"], type: "text" },
  { name: "sharedKeyStatus", wire: ["sharedKeyStatus"], type: "text" },
  { name: "isBinary", wire: ["isBinary"], type: "bool" },
  { name: "isEncrypted", wire: ["isEncrypted"], type: "bool" },
  { name: "sharedKeyEnc", wire: ["sharedKeyEnc"], type: "text" },
  { name: "pubKeyCS", wire: ["pubKeyCS"], type: "text" },
  { name: "encoding", wire: ["encoding"], type: "text" },
  { name: "encKeyName", wire: ["encKeyName"], type: "text" },
  { name: "encAlgo", wire: ["encAlgo"], type: "text" },
  { name: "ivNonce", wire: ["ivNonce"], type: "text" },
  { name: "skeEncKeyName", wire: ["skeEncKeyName"], type: "text" },
  { name: "skeEncAlgo", wire: ["skeEncAlgo"], type: "text" },
  { name: "hash", wire: ["hash"], type: "text" },
  { name: "algo", wire: ["algo"], type: "text" },
];

/**
 * update and update:meta take negative ttl/ttb too, as the reference's grammar does, so that
 * they are refused by validateMetadataInput with the reference's texts rather than as syntax.
 */
export const UPDATE_METADATA_ATTRIBUTES: readonly MetadataAttribute[] = METADATA_ATTRIBUTES.map(
  (a) => (a.name === "ttl" || a.name === "ttb" ? { ...a, signed: true } : a),
);

const TEXT_ATTRS = [
  "dataSignature",
  "sharedKeyEnc",
  "pubKeyCS",
  "encoding",
  "encKeyName",
  "encAlgo",
  "ivNonce",
  "skeEncKeyName",
  "skeEncAlgo",
] as const;
type TextAttr = (typeof TEXT_ATTRS)[number];

/** What we persist per key (times are epoch milliseconds). */
export interface StoredMetadata extends Partial<Record<TextAttr, string>> {
  createdBy: string;
  updatedBy: string;
  createdAt: number;
  updatedAt: number;
  availableAt?: number;
  expiresAt?: number;
  refreshAt?: number;
  version: number;
  ttl?: number;
  ttb?: number;
  ttr?: number;
  ccd?: boolean;
  isBinary: boolean;
  isEncrypted: boolean;
}

/** Throws AT0003 for values the reference rejects (negative ttl/ttb, ttr ≤ −2). */
export function validateMetadataInput(m: MetadataInput): void {
  if (m.ttl !== undefined && m.ttl < 0)
    throw new InvalidSyntaxError("Valid value for TTL should be greater than or equal to 0");
  if (m.ttb !== undefined && m.ttb < 0)
    throw new InvalidSyntaxError("Valid value for TTB should be greater than or equal to 0");
  if (m.ttr !== undefined && m.ttr < -1)
    throw new InvalidSyntaxError("Valid values for TTR are -1 and greater than or equal to 1");
}

export interface ApplyOptions {
  now: number;
  /** The atSign writing (with `@`). */
  by: string;
  /** `update` resets isBinary/isEncrypted unless given; `update:meta` keeps them. */
  mode: "update" | "meta";
}

/** New stored metadata from the existing one (if any) and a command's attributes. */
export function applyMetadata(
  existing: StoredMetadata | undefined,
  input: MetadataInput,
  opts: ApplyOptions,
): StoredMetadata {
  validateMetadataInput(input);
  const { now, by } = opts;
  const ttl = input.ttl ?? existing?.ttl;
  const ttb = input.ttb ?? existing?.ttb;
  let ttr = input.ttr ?? existing?.ttr;
  if (ttr === 0) ttr = undefined;
  let ccd: boolean | undefined;
  if (input.ttr !== undefined) ccd = input.ccd ?? false;
  else if (ttr !== undefined) ccd = input.ccd ?? existing?.ccd;
  const out: StoredMetadata = {
    createdBy: existing?.createdBy ?? by,
    updatedBy: by,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    version: existing ? existing.version + 1 : 0,
    isBinary: input.isBinary ?? (opts.mode === "meta" ? (existing?.isBinary ?? false) : false),
    isEncrypted:
      input.isEncrypted ?? (opts.mode === "meta" ? (existing?.isEncrypted ?? false) : false),
  };
  if (ttl !== undefined) out.ttl = ttl;
  if (ttb !== undefined) out.ttb = ttb;
  if (ttr !== undefined) out.ttr = ttr;
  if (ccd !== undefined) out.ccd = ccd;
  if (ttb !== undefined && ttb > 0) out.availableAt = now + ttb;
  if (ttl !== undefined && ttl > 0) out.expiresAt = now + ttl + (ttb ?? 0);
  // The reference adds ttr as seconds, not milliseconds; clients only see the date.
  if (ttr !== undefined && ttr > 0) out.refreshAt = now + ttr * 1000;
  for (const a of TEXT_ATTRS) {
    const given = input[a];
    if (given === undefined) {
      const old = existing?.[a];
      if (old !== undefined) out[a] = old;
    } else if (given.toLowerCase() !== "null") {
      out[a] = given;
    }
  }
  return out;
}

/** `availableAt ≤ now ≤ expiresAt` (each only when set). */
export function isActive(
  m: Pick<StoredMetadata, "availableAt" | "expiresAt">,
  now: number,
): boolean {
  if (m.availableAt !== undefined && m.availableAt > now) return false;
  if (m.expiresAt !== undefined && m.expiresAt <= now) return false;
  return true;
}

/** `2024-10-24 01:35:02.123Z` */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ");
}

export type MetadataJson = Record<string, string | number | boolean>;

/** §4.4: fixed field order, null fields omitted, dates as text, numbers and booleans native. */
export function metadataJson(m: StoredMetadata): MetadataJson {
  const out: MetadataJson = {
    createdBy: m.createdBy,
    updatedBy: m.updatedBy,
    createdAt: formatDate(m.createdAt),
    updatedAt: formatDate(m.updatedAt),
  };
  if (m.availableAt !== undefined) out.availableAt = formatDate(m.availableAt);
  if (m.expiresAt !== undefined) out.expiresAt = formatDate(m.expiresAt);
  if (m.refreshAt !== undefined) out.refreshAt = formatDate(m.refreshAt);
  out.status = "active";
  out.version = m.version;
  if (m.ttl !== undefined) out.ttl = m.ttl;
  if (m.ttb !== undefined) out.ttb = m.ttb;
  if (m.ttr !== undefined) out.ttr = m.ttr;
  if (m.ccd !== undefined) out.ccd = m.ccd;
  out.isBinary = m.isBinary;
  out.isEncrypted = m.isEncrypted;
  for (const a of TEXT_ATTRS) {
    const v = m[a];
    if (v !== undefined) out[a] = v;
  }
  return out;
}

/** §7: the same object with every value stringified (sync:from). */
export function metadataSyncJson(m: StoredMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadataJson(m))) out[k] = String(v);
  return out;
}

/** Metadata as a client reads it back from a `meta`/`all` answer (dates kept as text). */
export type ParsedMetadata = Partial<Record<string, string | number | boolean>>;

/** The attributes a cached copy of someone else's key keeps (ttr, ccd, encryption fields). */
export function metadataInputFrom(m: StoredMetadata): MetadataInput {
  const out: MetadataInput = { isBinary: m.isBinary, isEncrypted: m.isEncrypted };
  if (m.ttl !== undefined) out.ttl = m.ttl;
  if (m.ttb !== undefined) out.ttb = m.ttb;
  if (m.ttr !== undefined) out.ttr = m.ttr;
  if (m.ccd !== undefined) out.ccd = m.ccd;
  for (const a of TEXT_ATTRS) {
    const v = m[a];
    if (v !== undefined) out[a] = v;
  }
  return out;
}
