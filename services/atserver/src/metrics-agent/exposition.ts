// Merging many atServers' Prometheus text documents into one, each sample gaining an
// `atsign` label. The text format requires one HELP/TYPE header per family and all of a
// family's samples together, so samples are grouped by family across targets before
// rendering. Pure functions: the agent's unit tests drive them directly.
import { labelText } from "@atplatform/protocol/src/metrics";

export interface Family {
  help?: string;
  type?: string;
  /** Sample lines, already relabelled. */
  samples: string[];
}

/** Families by name, in first-seen order (a Map keeps insertion order). */
export type Families = Map<string, Family>;

export class ExpositionError extends Error {
  override name = "ExpositionError";
}

// name, an optional {labels} block (quoted values may hold `}` or an escaped `"`), the value
// and an optional timestamp.
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+([-+]?(?:[0-9][0-9.eE+-]*|\.[0-9][0-9eE+-]*|Inf|NaN)(?:\s+-?[0-9]+)?)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info"];

function familyOf(sample: string, current: string | undefined): string {
  if (current === undefined) return sample;
  if (sample === current) return current;
  for (const s of SUFFIXES) if (sample === current + s) return current;
  return sample;
}

/** `{a="1",b="2"}` → [["a","1"],["b","2"]] with values still escaped as in the text. */
function parseLabels(block: string | undefined): [string, string][] {
  if (!block) return [];
  const inner = block.slice(1, -1).trim();
  const out: [string, string][] = [];
  LABEL.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (LABEL.lastIndex < inner.length && (m = LABEL.exec(inner))) out.push([m[1]!, m[2]!]);
  if (LABEL.lastIndex !== inner.length) throw new ExpositionError(`bad label set ${block}`);
  return out;
}

/**
 * Adds one target's document to `into`, every sample with `atsign` first among its labels. A
 * label of that name the target sent itself is dropped: the agent's value comes from the
 * orchestrator's container label, which the atServer cannot forge. At most `maxSamples`
 * samples are taken; more throws (the caller counts it as a scrape error).
 */
export function addTarget(
  into: Families,
  text: string,
  atsign: string,
  maxSamples: number,
): number {
  const prefix = labelText({ atsign }).slice(1, -1);
  let current: string | undefined;
  let n = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      current = m[2]!;
      const f = family(into, current);
      if (m[1] === "HELP") f.help ??= m[3] ?? "";
      else f.type ??= m[3] ?? "untyped";
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new ExpositionError(`bad sample line: ${line.slice(0, 80)}`);
    if (++n > maxSamples) throw new ExpositionError(`more than ${maxSamples} samples`);
    const labels = parseLabels(m[2])
      .filter(([k]) => k !== "atsign")
      .map(([k, v]) => `${k}="${v}"`);
    const name = m[1]!;
    family(into, familyOf(name, current)).samples.push(
      `${name}{${[prefix, ...labels].join(",")}} ${m[3]}`,
    );
  }
  return n;
}

function family(into: Families, name: string): Family {
  let f = into.get(name);
  if (!f) {
    f = { samples: [] };
    into.set(name, f);
  }
  return f;
}

/** One exposition document: each family's header once, then all its samples. */
export function renderFamilies(families: Families): string {
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples);
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
