// Typed, key-naming access to raw Pulumi config values (strings, JSON objects and lists).
// Pure parsing: components/config.ts is the one module that reads pulumi.Config.

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config ${key}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Raw values as Pulumi stores them (objects and lists as JSON text), keyed by full name. */
export type RawConfig = Record<string, string | undefined>;
type Num = { min: number; max: number };

/** Typed access to raw values; every failure names the full key. */
export class Reader {
  /** `fields`: the known fields of each object-valued key (by key without namespace). */
  constructor(
    private readonly raw: RawConfig,
    private readonly fields: Record<string, string[]> = {},
    private readonly prefix = "",
  ) {}

  private known(full: string): string[] | undefined {
    return this.fields[full.split(":")[1] ?? ""];
  }

  private value(key: string): unknown {
    return this.raw[this.prefix + key];
  }

  string(key: string, opts: { pattern?: RegExp; hint?: string } = {}, def?: string): string {
    const full = this.prefix + key;
    const v = this.value(key) ?? def;
    if (v === undefined || v === "") throw new ConfigError(full, "is required");
    if (typeof v !== "string") throw new ConfigError(full, "must be a string");
    if (opts.pattern && !opts.pattern.test(v))
      throw new ConfigError(full, `"${v}" is invalid${opts.hint ? ` (${opts.hint})` : ""}`);
    return v;
  }

  optionalString(key: string, pattern: RegExp): string | undefined {
    const v = this.value(key);
    if (v === undefined || v === "") return undefined;
    return this.string(key, { pattern });
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], def?: T): T {
    const full = this.prefix + key;
    const v = this.value(key) ?? def;
    if (v === undefined) throw new ConfigError(full, `is required (one of ${allowed.join(", ")})`);
    if (!allowed.includes(v as T))
      throw new ConfigError(full, `"${String(v)}" is not one of ${allowed.join(", ")}`);
    return v as T;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.value(key);
    if (v === undefined) return def;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    throw new ConfigError(this.prefix + key, `"${String(v)}" is not true or false`);
  }

  list<T>(key: string, item: (v: string, key: string) => T, def?: T[]): T[] {
    const full = this.prefix + key;
    const v = this.value(key);
    if (v === undefined) {
      if (def) return def;
      throw new ConfigError(full, "is required (a list)");
    }
    const parsed = typeof v === "string" ? parseJson(full, v) : v;
    if (!Array.isArray(parsed)) throw new ConfigError(full, "must be a list");
    return parsed.map((x, i) => {
      if (typeof x !== "string") throw new ConfigError(`${full}[${i}]`, "must be a string");
      return item(x, `${full}[${i}]`);
    });
  }

  /** A list of objects; each item's fields are checked like an object key's. */
  objectList(key: string): ObjectReader[] {
    const full = this.prefix + key;
    const v = this.value(key);
    if (v === undefined) return [];
    const parsed = typeof v === "string" ? parseJson(full, v) : v;
    if (!Array.isArray(parsed)) throw new ConfigError(full, "must be a list");
    return parsed.map((item, i) => {
      if (typeof item !== "object" || item === null || Array.isArray(item))
        throw new ConfigError(`${full}[${i}]`, "must be an object");
      return new ObjectReader(`${full}[${i}]`, item as Record<string, unknown>, this.known(full));
    });
  }

  object(key: string): ObjectReader {
    const full = this.prefix + key;
    const v = this.value(key);
    if (v === undefined) return new ObjectReader(full, {}, this.known(full));
    const parsed = typeof v === "string" ? parseJson(full, v) : v;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new ConfigError(full, "must be an object");
    return new ObjectReader(full, parsed as Record<string, unknown>, this.known(full));
  }
}

/** Fields of one object-valued key; unknown fields are rejected so typos surface. */
export class ObjectReader {
  constructor(
    readonly key: string,
    private readonly obj: Record<string, unknown>,
    private readonly knownFields?: string[],
  ) {}

  private get(field: string): unknown {
    const known = this.knownFields;
    for (const f of Object.keys(this.obj))
      if (known && !known.includes(f))
        throw new ConfigError(`${this.key}.${f}`, "is not a known field");
    return this.obj[field];
  }

  has(field: string): boolean {
    return this.get(field) !== undefined;
  }

  string(field: string, def: string | undefined, pattern?: RegExp): string {
    const v = this.get(field) ?? def;
    const full = `${this.key}.${field}`;
    if (v === undefined || v === "") throw new ConfigError(full, "is required");
    if (typeof v !== "string") throw new ConfigError(full, "must be a string");
    if (pattern && !pattern.test(v)) throw new ConfigError(full, `"${v}" is invalid`);
    return v;
  }

  int(field: string, def: number | undefined, range: Num): number {
    const v = this.get(field) ?? def;
    const full = `${this.key}.${field}`;
    if (v === undefined) throw new ConfigError(full, "is required");
    const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n))
      throw new ConfigError(full, `"${String(v)}" is not an integer`);
    if (n < range.min || n > range.max)
      throw new ConfigError(full, `${n} is outside ${range.min}..${range.max}`);
    return n;
  }

  /** A list of strings, each checked by `item` (which gets the element's full key). */
  strings<T>(field: string, item: (v: string, key: string) => T): T[] {
    const v = this.get(field);
    const full = `${this.key}.${field}`;
    if (!Array.isArray(v)) throw new ConfigError(full, "must be a list");
    return v.map((x, i) => {
      if (typeof x !== "string") throw new ConfigError(`${full}[${i}]`, "must be a string");
      return item(x, `${full}[${i}]`);
    });
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], def: T): T {
    const v = this.get(field) ?? def;
    if (!allowed.includes(v as T))
      throw new ConfigError(
        `${this.key}.${field}`,
        `"${String(v)}" is not one of ${allowed.join(", ")}`,
      );
    return v as T;
  }
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(
      key,
      "is not valid JSON (set it with --path or as YAML in Pulumi.<stack>.yaml)",
    );
  }
}
