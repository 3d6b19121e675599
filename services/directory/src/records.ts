// The record format shared by the file store, the writers and the upstream client:
// key = atSign lower-cased without a leading '@', value = `host:port` with exactly one
// ':' (clients split on it, so IPv6 literals are not allowed).
import { RecordsFormatError } from "./errors";

const HOST_PORT = /^[^\s:@/]+:(\d{1,5})$/;

/** Normalises an atSign for storage: trims, drops one leading '@', lower-cases. */
export function recordKey(atsign: string): string {
  const trimmed = atsign.trim();
  const key = (trimmed.startsWith("@") ? trimmed.slice(1) : trimmed).toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (key.length === 0 || key.length > 255 || /[\s:@\u0000-\u001f\u007f]/.test(key)) {
    throw new RecordsFormatError(`invalid atSign ${JSON.stringify(atsign)}`);
  }
  return key;
}

export function isHostPort(value: string): boolean {
  const m = HOST_PORT.exec(value);
  if (!m) return false;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535;
}

export function checkHostPort(value: string): string {
  if (!isHostPort(value)) {
    throw new RecordsFormatError(`invalid address ${JSON.stringify(value)} (want host:port)`);
  }
  return value;
}

/** Parses a records file: `atsign host:port` per line, blank lines and `#` comments ignored. */
export function parseRecords(text: string, source = "records"): Map<string, string> {
  const map = new Map<string, string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      throw new RecordsFormatError(`${source}:${i + 1}: expected "atsign host:port"`);
    }
    try {
      map.set(recordKey(parts[0]!), checkHostPort(parts[1]!));
    } catch (err) {
      throw new RecordsFormatError(`${source}:${i + 1}: ${(err as Error).message}`);
    }
  }
  return map;
}

export function formatRecords(map: ReadonlyMap<string, string>): string {
  const keys = [...map.keys()].sort();
  return keys.map((k) => `${k} ${map.get(k)}\n`).join("");
}
