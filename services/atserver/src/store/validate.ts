// Argument checks for the write methods: a wrong type must fail loudly rather than be stored
// as something else (a Buffer would come back as a BLOB, NaN as NULL).

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError("key must be a non-empty string");
  }
}

export function checkValue(value: unknown): asserts value is string | null {
  if (value !== null && typeof value !== "string") {
    throw new TypeError("value must be a string or null");
  }
}

export function checkMetadata(metadata: unknown): asserts metadata is Record<string, unknown> {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new TypeError("metadata must be a plain object");
  }
}

export function checkTime(name: string, t: unknown): void {
  if (t !== undefined && t !== null && !(typeof t === "number" && Number.isFinite(t))) {
    throw new TypeError(`${name} must be a finite number of epoch ms, null or undefined`);
  }
}

export function sqlLimit(limit: number | undefined): number {
  if (limit === undefined) return -1;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError("limit must be an integer >= 0");
  return limit;
}
