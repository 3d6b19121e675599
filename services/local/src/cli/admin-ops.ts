// `atplatform admin rollout …` and the access-key commands: the registrar's roll-out and key
// admin API. A rotated key is shown once (stdout, or written to a file mode 0600), never put
// on a command line or in a log.
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { flag, intFlag, UsageError, type Args } from "./args";

export interface OpsTarget {
  call(method: string, path: string, body?: unknown): Promise<any>;
  out: (line: string) => void;
  /** Where this target's keys live when it is the local platform (kept current on rotation). */
  keyFiles?: { api?: string; admin?: string };
}

interface RolloutView {
  id: number;
  state: string;
  targets: Record<string, string>;
  total: number;
  counts: Record<string, number>;
  batch: number;
  updating: string[];
  failures: { atsign: string; detail: string | null }[];
  stoppedReason: string | null;
  updatedAt: string;
}

const ROLLOUT_ACTIONS = ["status", "start", "pause", "resume", "abort"];

export async function rollout(t: OpsTarget, args: Args): Promise<void> {
  const action = args.positional[0] ?? "status";
  if (!ROLLOUT_ACTIONS.includes(action))
    throw new UsageError(`unknown rollout action ${action} (${ROLLOUT_ACTIONS.join(", ")})`);
  if (action !== "status") {
    const r = (await t.call("POST", `/api/admin/rollout/${action}`, {})) as {
      rollout: RolloutView | null;
    };
    if (r.rollout) printRollout(t, r.rollout);
    return;
  }
  const s = (await t.call("GET", "/api/admin/rollout")) as {
    supported: boolean;
    orchestrator: string;
    outdated: { active: number; suspended: number } | null;
    outdatedError?: string;
    rollout: RolloutView | null;
  };
  if (!s.supported) {
    t.out(
      `image roll-outs: not supported by the ${s.orchestrator} orchestrator (it runs no images)`,
    );
    return;
  }
  if (s.outdated)
    t.out(
      `not on their swarm's image: ${s.outdated.active} active, ${s.outdated.suspended} suspended`,
    );
  else t.out(`not on their swarm's image: unknown (${s.outdatedError ?? "no answer"})`);
  if (s.rollout) printRollout(t, s.rollout);
  else t.out("no roll-out yet");
  // A stopped roll-out is an operator's problem: say so in the exit code too.
  if (s.rollout?.state === "stopped") process.exitCode = 1;
}

function printRollout(t: OpsTarget, r: RolloutView): void {
  const c = r.counts;
  t.out(`roll-out ${r.id}: ${r.state}, batch ${r.batch}`);
  for (const [swarm, image] of Object.entries(r.targets)) t.out(`  target ${swarm}: ${image}`);
  t.out(
    `  ${c.done ?? 0} done, ${c.failed ?? 0} failed, ${(c.pending ?? 0) + (c.updating ?? 0)} pending, ${c.skipped ?? 0} skipped of ${r.total}`,
  );
  if (r.updating.length > 0) t.out(`  updating: ${r.updating.join(", ")}`);
  if (r.stoppedReason) t.out(`  stopped: ${r.stoppedReason}`);
  for (const f of r.failures) t.out(`  failed ${f.atsign}: ${f.detail ?? ""}`);
}

function kindOf(args: Args): "api" | "admin" {
  const kind = flag(args, "kind") ?? "api";
  if (kind !== "api" && kind !== "admin")
    throw new UsageError(`--kind must be api or admin, got "${kind}"`);
  return kind;
}

export async function listKeys(t: OpsTarget): Promise<void> {
  const { keys } = (await t.call("GET", "/api/admin/keys")) as {
    keys: {
      id: number;
      kind: string;
      source: string;
      createdAt: string;
      expiresAt: string | null;
      retiredAt: string | null;
      valid: boolean;
    }[];
  };
  for (const k of keys)
    t.out(
      `${String(k.id).padEnd(4)} ${k.kind.padEnd(6)} ${k.source.padEnd(8)} ${
        k.valid ? "valid" : "invalid"
      }  created ${k.createdAt}${k.expiresAt ? `  until ${k.expiresAt}` : ""}${
        k.retiredAt ? `  retired ${k.retiredAt}` : ""
      }`,
    );
}

/**
 * A new key of the kind; the old ones stay valid --overlap seconds (registrar default: 24 h).
 * The key goes to --out FILE, else to the local platform's key file, else to stdout alone.
 */
export async function rotateKey(t: OpsTarget, args: Args): Promise<void> {
  const kind = kindOf(args);
  const overlap = flag(args, "overlap");
  const outFile = flag(args, "out");
  // Checked before the rotation: a refused file after it would lose the only copy of the key.
  if (outFile && existsSync(outFile) && args.flags.force !== true)
    throw new UsageError(`${outFile} exists: add --force to overwrite it`);
  const body: Record<string, unknown> = { kind };
  if (overlap !== undefined) body.overlapSeconds = intFlag(args, "overlap", 0, 0, 30 * 86400);
  const r = (await t.call("POST", "/api/admin/keys/rotate", body)) as {
    key: string;
    id: number;
    oldKeysValidUntil: string;
  };
  const file = outFile ?? t.keyFiles?.[kind];
  const note = (line: string): void => void process.stderr.write(`${line}\n`);
  if (file) {
    writePrivate(file, r.key);
    t.out(`new ${kind} key ${r.id} written to ${file}`);
    t.out(`old ${kind} keys valid until ${r.oldKeysValidUntil}`);
  } else {
    // stdout carries the key alone (for a pipe into a secret store); the rest goes to stderr.
    t.out(r.key);
    note(
      `new ${kind} key ${r.id} (shown once); old ${kind} keys valid until ${r.oldKeysValidUntil}`,
    );
  }
}

export async function retireKeys(t: OpsTarget, args: Args): Promise<void> {
  const kind = kindOf(args);
  const r = (await t.call("POST", "/api/admin/keys/retire", { kind })) as { retired: number };
  t.out(`retired ${r.retired} old ${kind} key(s); only the newest is accepted now`);
}

function writePrivate(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${content}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
