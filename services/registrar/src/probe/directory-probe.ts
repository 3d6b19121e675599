// One directory probe: ask the public root where an active atSign lives and compare the
// answer with the placement the registrar gave it.
import type { RootResolver } from "../provisioning/ports";
import type { RegistrarStore } from "../store/registrar-store";
import type { AtSignRecord } from "../store/types";

/** The `result` label of registrar_directory_probe_total. */
export type DirectoryProbeResult = "ok" | "wrong_null" | "wrong_address" | "error";

export const DIRECTORY_PROBE_RESULTS: readonly DirectoryProbeResult[] = [
  "ok",
  "wrong_null",
  "wrong_address",
  "error",
];

/**
 * Probes `rec` (an active atSign). Undefined when the atSign changed while the lookup was
 * in flight (moved, suspended, deleted): then neither answer would be wrong.
 */
export async function probeDirectory(
  rec: AtSignRecord,
  lookup: RootResolver,
  store: RegistrarStore,
): Promise<DirectoryProbeResult | undefined> {
  const expected = `${rec.host}:${rec.port}`;
  let result: DirectoryProbeResult;
  try {
    const answer = await lookup(rec.atsign);
    result = answer === null ? "wrong_null" : answer === expected ? "ok" : "wrong_address";
  } catch {
    result = "error";
  }
  const now = store.get(rec.atsign);
  const unchanged =
    now?.state === "active" &&
    now.generation === rec.generation &&
    `${now.host}:${now.port}` === expected;
  return unchanged ? result : undefined;
}
