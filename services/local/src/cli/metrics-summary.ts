// `atplatform status`'s metrics part: scrapes the local platform's Prometheus endpoints
// (loopback URLs in platform.json and each atServer's metrics.json) and sums them up in a
// few lines. A small reader of the text format: name, labels, value.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, "$1");
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The endpoint's samples, or the reason it could not be read. */
export async function scrape(url: string, timeoutMs = 3000): Promise<Sample[] | Error> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return new Error(`HTTP ${res.status}`);
    return parseSamples(await res.text());
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return new Error(cause ?? (err as Error).message);
  }
}

function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

const LOOKUP_RESULTS = ["found", "unknown", "invalid", "unavailable", "throttled", "too_long"];

/** Non-zero lookup counts, in a fixed order of results ("none" when there were none). */
function lookups(samples: Sample[]): string {
  const counts = samples.filter((s) => s.name === "atdirectory_lookups_total" && s.value > 0);
  const rank = (r: string | undefined) => {
    const i = LOOKUP_RESULTS.indexOf(r ?? "");
    return i < 0 ? LOOKUP_RESULTS.length : i;
  };
  counts.sort((a, b) => rank(a.labels.result) - rank(b.labels.result));
  return counts.map((s) => `${s.labels.result} ${s.value}`).join(", ") || "none";
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function directoryLine(s: Sample[]): string {
  const state = s.find((x) => x.name === "atdirectory_store_state" && x.value === 1)?.labels.state;
  return (
    `lookups ${lookups(s)}; ` +
    `store ${state ?? "file"}; ${sum(s, "atdirectory_open_connections")} open connections`
  );
}

export function registrarLine(s: Sample[]): string {
  const states = s
    .filter((x) => x.name === "registrar_atsigns" && x.value > 0)
    .map((x) => `${x.labels.state} ${x.value}`);
  return `atSigns ${states.join(", ") || "none"}`;
}

export function atServerLine(s: Sample[]): string {
  const kinds = s
    .filter((x) => x.name === "atserver_open_connections" && x.value > 0)
    .map((x) => `${x.labels.kind} ${x.value}`);
  const total = sum(s, "atserver_open_connections");
  return (
    `up; connections ${total}${kinds.length ? ` (${kinds.join(", ")})` : ""}; ` +
    `memory ${mb(sum(s, "process_resident_memory_bytes"))}`
  );
}

/** The metrics.json files of the atServers running now (written by the local orchestrator). */
export function atServerEndpoints(home: string): { atSign: string; url: string }[] {
  const root = join(home, "atservers");
  if (!existsSync(root)) return [];
  const out: { atSign: string; url: string }[] = [];
  for (const shard of readdirSync(root))
    for (const dir of readdirSync(join(root, shard))) {
      const file = join(root, shard, dir, "metrics.json");
      if (!existsSync(file)) continue;
      try {
        const rec = JSON.parse(readFileSync(file, "utf8")) as { atSign?: unknown; url?: unknown };
        if (typeof rec.atSign === "string" && typeof rec.url === "string")
          out.push({ atSign: rec.atSign, url: rec.url });
      } catch {
        // Being rewritten by a restart: the next status sees it.
      }
    }
  return out.sort((a, b) => a.atSign.localeCompare(b.atSign));
}
