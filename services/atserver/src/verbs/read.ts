// Answer shapes shared by llookup, lookup and plookup (Part A item 9, Part B §4.4).
import { metadataJson } from "@atplatform/protocol/src/core";
import type { KeyRecord } from "../data/key-service";

export type ReadOp = "meta" | "all" | undefined;

/** The payload (after `data:`) for a record read with `op`, shown under `key`. */
export function answer(r: KeyRecord, op: ReadOp, key = r.key, value = r.value): string {
  if (op === "meta") return JSON.stringify(metadataJson(r.metadata));
  if (op === "all") {
    return JSON.stringify({ key, data: value, metaData: metadataJson(r.metadata) });
  }
  return value === null ? "null" : value;
}
