// A tiny declarative grammar: each verb is described once as a sequence of parts, from
// which we derive both the parser (one anchored, case-insensitive RegExp with named
// groups) and the formatter the client uses to build command lines. There is no second
// copy of any verb's syntax.
import { InvalidSyntaxError } from "./errors";
import { METADATA_ATTRIBUTES, type MetadataAttribute, type MetadataInput } from "./metadata";

export type Part =
  | { kind: "lit"; text: string; alts?: string[] }
  | { kind: "field"; name: string; pattern: string }
  | { kind: "flag"; name: string; text: string }
  | { kind: "opt"; parts: Part[] }
  | { kind: "meta"; name: string; attrs: readonly MetadataAttribute[] };

type PartLike = Part | string;

function norm(p: PartLike): Part {
  return typeof p === "string" ? { kind: "lit", text: p } : p;
}

/** Literal text that also accepts other spellings when parsing (the first is written). */
export function litAny(text: string, ...alts: string[]): Part {
  return { kind: "lit", text, alts };
}

/** A named value; `pattern` is a RegExp source without capturing groups. */
export function field(name: string, pattern: string): Part {
  return { kind: "field", name, pattern };
}

/** Optional literal text, parsed as a boolean. */
export function flag(name: string, text: string): Part {
  return { kind: "flag", name, text };
}

/** An optional group: formatted when any value inside it is present. */
export function opt(...parts: PartLike[]): Part {
  return { kind: "opt", parts: parts.map(norm) };
}

/** The metadata fragment `(:name:value)*`: accepted in any order, formatted in `attrs` order. */
export function meta(
  name = "metadata",
  attrs: readonly MetadataAttribute[] = METADATA_ATTRIBUTES,
): Part {
  return { kind: "meta", name, attrs };
}

export type ParamValue = string | boolean | MetadataInput | undefined;

export class Grammar<P extends object> {
  readonly regex: RegExp;
  readonly parts: Part[];
  constructor(
    readonly name: string,
    parts: PartLike[],
    readonly usage: string,
  ) {
    this.parts = parts.map(norm);
    this.regex = new RegExp(`^${this.parts.map(toSource).join("")}$`, "iu");
  }

  /** Params of a whole command line, or undefined when the line does not match. */
  match(line: string): P | undefined {
    const m = this.regex.exec(line);
    if (!m) return undefined;
    const out: Record<string, ParamValue> = {};
    collect(this.parts, m.groups ?? {}, out);
    return out as P;
  }

  /** Like match, but a mismatch is the protocol's AT0003. */
  parse(line: string): P {
    const p = this.match(line);
    if (!p) throw new InvalidSyntaxError(`Invalid syntax. ${this.usage}`);
    return p;
  }

  /** The command line for these params (without newline). */
  format(params: P): string {
    const line = formatParts(this.parts, params as Record<string, ParamValue>, true);
    if (!this.regex.test(line)) {
      throw new InvalidSyntaxError(`cannot build a valid ${this.name} command from these values`);
    }
    return line;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function metaValuePattern(a: MetadataAttribute): string {
  if (a.type === "bool") return "(?:true|false)";
  if (a.type === "int") return a.signed ? "-?\\d+" : "\\d+";
  return "[^:@\\s]+";
}

function metaSource(attrs: readonly MetadataAttribute[]): string {
  const alts = attrs.map((a) => `:(?:${a.wire.map(escape).join("|")}):${metaValuePattern(a)}`);
  return `(?:${alts.join("|")})*`;
}

function toSource(p: Part): string {
  switch (p.kind) {
    case "lit":
      return p.alts?.length ? `(?:${[p.text, ...p.alts].map(escape).join("|")})` : escape(p.text);
    case "field":
      return `(?<${p.name}>${p.pattern})`;
    case "flag":
      return `(?<${p.name}>${escape(p.text)})?`;
    case "opt":
      return `(?:${p.parts.map(toSource).join("")})?`;
    case "meta":
      return `(?<${p.name}>${metaSource(p.attrs)})`;
  }
}

function collect(
  parts: Part[],
  groups: Record<string, string | undefined>,
  out: Record<string, ParamValue>,
): void {
  for (const p of parts) {
    if (p.kind === "field") out[p.name] = groups[p.name];
    else if (p.kind === "flag") out[p.name] = groups[p.name] !== undefined;
    else if (p.kind === "opt") collect(p.parts, groups, out);
    else if (p.kind === "meta") out[p.name] = parseMetaFragment(groups[p.name] ?? "", p.attrs);
  }
}

/** `:ttl:5:isBinary:true` → `{ ttl: 5, isBinary: true }` (names matched case-insensitively). */
export function parseMetaFragment(
  text: string,
  attrs: readonly MetadataAttribute[],
): MetadataInput {
  const out: Record<string, unknown> = {};
  const pieces = text.split(":").slice(1);
  for (let i = 0; i + 1 < pieces.length; i += 2) {
    const name = pieces[i]!.toLowerCase();
    const raw = pieces[i + 1]!;
    const attr = attrs.find((a) => a.wire.some((w) => w.toLowerCase() === name));
    if (!attr) continue;
    if (attr.type === "bool") out[attr.name] = raw.toLowerCase() === "true";
    else if (attr.type === "int") out[attr.name] = Number(raw);
    else out[attr.name] = raw;
  }
  return out as MetadataInput;
}

function present(parts: Part[], params: Record<string, ParamValue>): boolean {
  return parts.some((p) => {
    if (p.kind === "field") return params[p.name] !== undefined && params[p.name] !== "";
    if (p.kind === "flag") return params[p.name] === true;
    if (p.kind === "opt") return present(p.parts, params);
    if (p.kind === "meta")
      return formatMeta(params[p.name] as MetadataInput | undefined, p.attrs) !== "";
    return false;
  });
}

function formatMeta(m: MetadataInput | undefined, attrs: readonly MetadataAttribute[]): string {
  if (!m) return "";
  let s = "";
  for (const a of attrs) {
    const v = (m as Record<string, unknown>)[a.name];
    if (v === undefined || v === null) continue;
    s += `:${a.wire[0]}:${String(v)}`;
  }
  return s;
}

function formatParts(parts: Part[], params: Record<string, ParamValue>, required: boolean): string {
  let s = "";
  for (const p of parts) {
    switch (p.kind) {
      case "lit":
        s += p.text;
        break;
      case "field": {
        const v = params[p.name];
        if (v === undefined || v === "") {
          if (required) throw new InvalidSyntaxError(`missing ${p.name}`);
          break;
        }
        s += String(v);
        break;
      }
      case "flag":
        if (params[p.name] === true) s += p.text;
        break;
      case "opt":
        if (present(p.parts, params)) s += formatParts(p.parts, params, true);
        break;
      case "meta":
        s += formatMeta(params[p.name] as MetadataInput | undefined, p.attrs);
        break;
    }
  }
  return s;
}
