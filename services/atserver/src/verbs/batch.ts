// `batch:[{"id":1,"command":"…"},…]` → each command's data or error, in order (§3.25).
import { type AtError, InvalidSyntaxError } from "@atplatform/protocol/src/core";
import type { Outcome } from "../engine/dispatch";

type Run = (line: string) => Promise<{ outcome: Outcome } | { error: AtError }>;

export async function runBatch(json: string, run: Run): Promise<string> {
  let items: unknown;
  try {
    items = JSON.parse(json);
  } catch {
    throw new InvalidSyntaxError("batch needs a JSON array");
  }
  if (!Array.isArray(items)) throw new InvalidSyntaxError("batch needs a JSON array");
  const out: unknown[] = [];
  for (const item of items as Array<{ id?: unknown; command?: unknown }>) {
    const command = typeof item?.command === "string" ? item.command : "";
    const r = await run(command);
    if ("error" in r) {
      out.push({
        id: item?.id,
        response: { error_code: r.error.code, error_message: r.error.description },
      });
    } else {
      const line = r.outcome.line ?? r.outcome.raw ?? "";
      out.push({ id: item?.id, response: { data: line.replace(/^data:/, "") } });
    }
  }
  return JSON.stringify(out);
}
