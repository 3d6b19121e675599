// Storage-engine ceiling for the atServer: puts/s and gets/s straight on KeyStore with
// synchronous=FULL (the default) and NORMAL, a raw better-sqlite3 insert and a bare
// write+fsync loop on the same disk as baselines, and the memory of a process holding
// 100, 10,000 and 100,000 keys. Run: npx tsx bench/atserver-store.ts
import { spawnSync } from "node:child_process";
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { KeyStore, dbPath, type SynchronousMode } from "../services/atserver/src/store";

const PHASE_MS = 500;
// The machine is shared and fsync latency drifts, so the write figures are medians of
// interleaved rounds rather than one long run each.
const ROUNDS = 3;
const VALUE = "v".repeat(120);
const META = {
  createdBy: "@alice",
  updatedBy: "@alice",
  createdAt: "2026-11-23 19:00:00.000Z",
  updatedAt: "2026-11-23 19:00:00.000Z",
  status: "active",
  version: 0,
  isBinary: false,
  isEncrypted: true,
};

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "atp-bench-store-"));
}

/** Runs fn(i) until PHASE_MS elapses; returns operations per second. */
function timed(fn: (i: number) => void): { ops: number; perSec: number } {
  const start = process.hrtime.bigint();
  const end = start + BigInt(PHASE_MS) * 1_000_000n;
  let i = 0;
  let now = start;
  while (now < end) {
    for (let j = 0; j < 16; j++) fn(i++);
    now = process.hrtime.bigint();
  }
  const secs = Number(now - start) / 1e9;
  return { ops: i, perSec: i / secs };
}

function keyOf(i: number): string {
  return `@bob:key${i}.wavi@alice`;
}

/** Puts per second when 10 puts share one transaction (group commit via batch()). */
function benchBatched(): number {
  const dir = tmp();
  try {
    const s = KeyStore.open(dir);
    const r = timed((i) => {
      if (i % 10 !== 0) return;
      s.batch(() => {
        for (let j = i; j < i + 10; j++) s.put(keyOf(j), VALUE, META);
      });
    });
    s.close();
    return r.perSec;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchStore(sync: SynchronousMode): { puts: number; gets: number; scan: number } {
  const dir = tmp();
  try {
    const s = KeyStore.open(dir, { synchronous: sync });
    const puts = timed((i) => s.put(keyOf(i), VALUE, META));
    const n = s.lastCommitId() + 1;
    const gets = timed((i) => {
      if (!s.get(keyOf((i * 7919) % n))) throw new Error("missing key");
    });
    const scan = timed(() => {
      let c = 0;
      for (const _k of s.keys()) c++;
      if (c !== n) throw new Error("scan count");
    });
    s.close();
    return { puts: puts.perSec, gets: gets.perSec, scan: scan.perSec * n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchRawInsert(journal: "WAL" | "TRUNCATE"): number {
  const dir = tmp();
  try {
    const db = new Database(join(dir, "raw.sqlite"));
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma(`journal_mode = ${journal}`);
    db.pragma("synchronous = FULL");
    db.exec("CREATE TABLE t (key TEXT PRIMARY KEY, value TEXT, metadata TEXT)");
    const ins = db.prepare("INSERT OR REPLACE INTO t VALUES (?, ?, ?)");
    const meta = JSON.stringify(META);
    const r = timed((i) => ins.run(keyOf(i), VALUE, meta));
    db.close();
    return r.perSec;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchFsync(): number {
  const dir = tmp();
  try {
    const fd = openSync(join(dir, "f"), "w");
    const r = timed(() => {
      writeSync(fd, VALUE);
      fsyncSync(fd);
    });
    closeSync(fd);
    return r.perSec;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- memory, measured in a fresh child so nothing above skews it ----

interface Mem {
  rssKiB: number;
  anonKiB: number;
  heapKiB: number;
}

function anonNow(): number {
  const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  return Number(/^Anonymous:\s+(\d+)/m.exec(rollup)![1]);
}

function mem(): Mem {
  (globalThis as { gc?: () => void }).gc?.();
  const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(rollup)![1]);
  return {
    rssKiB: field("Rss"),
    anonKiB: field("Anonymous"),
    heapKiB: Math.round(process.memoryUsage().heapUsed / 1024),
  };
}

// Opens a populated store, lists every key and reads every value, and reports memory before
// and after (each after a full GC).
function memChild(dir: string, keys: number): void {
  const bare = mem();
  // Load the native addon and SQLite with a throwaway store first, so "before" is a process
  // that already uses SQLite and the difference is what the populated store costs.
  const warm = tmp();
  const w0 = process.hrtime.bigint();
  KeyStore.open(warm).close();
  const firstOpenMs = Number(process.hrtime.bigint() - w0) / 1e6;
  rmSync(warm, { recursive: true, force: true });
  const before = mem();
  const t0 = process.hrtime.bigint();
  const store = KeyStore.open(dir);
  const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
  let c = 0;
  let peakAnonKiB = anonNow();
  for (const k of store.keys()) {
    if (store.get(k)) c++;
    if (c % 500 === 0) peakAnonKiB = Math.max(peakAnonKiB, anonNow());
  }
  if (c !== keys) throw new Error(`count ${c}`);
  peakAnonKiB = Math.max(peakAnonKiB, anonNow());
  const after = { ...mem(), peakAnonKiB };
  store.close();
  process.stdout.write(JSON.stringify({ bare, before, after, openMs, firstOpenMs }));
}

// Fixture only: rows exactly as put() writes them (an entry plus its commit), inserted in one
// transaction because 100,000 single-write transactions would take most of the time budget.
function populate(dir: string, keys: number): void {
  KeyStore.open(dir).close();
  const db = new Database(dbPath(dir));
  const meta = JSON.stringify(META);
  const entry = db.prepare(
    "INSERT INTO entries (key, value, metadata, expires_at, available_at, commit_id) VALUES (?, ?, ?, NULL, NULL, ?)",
  );
  const commit = db.prepare(
    "INSERT INTO commit_log (id, key, operation, at) VALUES (?, ?, 'update', ?)",
  );
  db.transaction(() => {
    for (let i = 0; i < keys; i++) {
      entry.run(keyOf(i), VALUE, meta, i);
      commit.run(i, keyOf(i), Date.now());
    }
    db.prepare("UPDATE commit_sequence SET last_id = ?").run(keys - 1);
  })();
  db.close();
}

interface MemResult {
  bare: Mem;
  before: Mem;
  after: Mem & { peakAnonKiB: number };
  openMs: number;
  firstOpenMs: number;
  fileMiB: number;
}

function memory(keys: number): MemResult {
  const dir = tmp();
  try {
    populate(dir, keys);
    const fileMiB = statSync(dbPath(dir)).size / 1048576;
    const r = spawnSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", __filename, "mem-child", dir, String(keys)],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return { ...(JSON.parse(r.stdout) as Omit<MemResult, "fileMiB">), fileMiB };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.floor(a.length / 2)];
}

function main(): void {
  if (process.argv[2] === "mem-child") return memChild(process.argv[3], Number(process.argv[4]));
  const f = (n: number) => Math.round(n).toLocaleString("en-US");
  const r = {
    fsync: [] as number[],
    rawWal: [] as number[],
    rawRollback: [] as number[],
    fullPuts: [] as number[],
    fullGets: [] as number[],
    fullScan: [] as number[],
    normalPuts: [] as number[],
    normalGets: [] as number[],
    normalScan: [] as number[],
    fullBatched: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    r.fsync.push(benchFsync());
    r.rawWal.push(benchRawInsert("WAL"));
    r.rawRollback.push(benchRawInsert("TRUNCATE"));
    const full = benchStore("full");
    r.fullPuts.push(full.puts);
    r.fullGets.push(full.gets);
    r.fullScan.push(full.scan);
    const normal = benchStore("normal");
    r.normalPuts.push(normal.puts);
    r.normalGets.push(normal.gets);
    r.normalScan.push(normal.scan);
    r.fullBatched.push(benchBatched());
  }
  const m = (xs: number[]) => `${f(median(xs))} (${xs.map(f).join(" / ")})`;
  console.log(
    `median of ${ROUNDS} interleaved rounds of ${PHASE_MS} ms phases (each round's value in brackets)`,
  );
  const load = loadavg().map((l) => l.toFixed(1));
  console.log(`machine: ${cpus().length} cores, load average ${load.join(" ")} after the rounds`);
  console.log(`value ${VALUE.length} B + ${JSON.stringify(META).length} B metadata JSON`);
  console.log(`baseline write(120 B)+fsync loop:                 ${m(r.fsync)} /s`);
  console.log(`baseline raw better-sqlite3 insert, WAL, FULL:    ${m(r.rawWal)} /s`);
  console.log(`baseline raw insert, rollback journal, FULL:      ${m(r.rawRollback)} /s`);
  console.log(`KeyStore synchronous=FULL   put:    ${m(r.fullPuts)} /s`);
  console.log(`KeyStore synchronous=NORMAL put:    ${m(r.normalPuts)} /s`);
  console.log(`KeyStore synchronous=FULL   put, batch() of 10: ${m(r.fullBatched)} /s`);
  console.log(`KeyStore synchronous=FULL   get:    ${m(r.fullGets)} /s`);
  console.log(`KeyStore synchronous=NORMAL get:    ${m(r.normalGets)} /s`);
  console.log(
    `KeyStore keys() (FULL / NORMAL):    ${f(median(r.fullScan))} / ${f(median(r.normalScan))} keys/s`,
  );
  for (const n of [100, 10_000, 100_000]) {
    const mm = memory(n);
    const mb = (k: number) => (k / 1024).toFixed(1);
    console.log(
      `${f(n)} keys (file ${mm.fileMiB.toFixed(1)} MiB): open ${mm.openMs.toFixed(1)} ms ` +
        `(first store of the process, creating it and loading SQLite: ${mm.firstOpenMs.toFixed(1)} ms); ` +
        `memory after open + keys() + get() of each: ` +
        `anonymous ${mb(mm.bare.anonKiB)} bare node+tsx, ${mb(mm.before.anonKiB)} with SQLite loaded, ` +
        `${mb(mm.after.anonKiB)} store open (+${mb(mm.after.anonKiB - mm.before.anonKiB)}), ` +
        `peak during the scan ${mb(mm.after.peakAnonKiB)} (+${mb(mm.after.peakAnonKiB - mm.before.anonKiB)}); ` +
        `RSS ${mb(mm.bare.rssKiB)} / ${mb(mm.before.rssKiB)} / ${mb(mm.after.rssKiB)} MiB; ` +
        `JS heap ${mb(mm.before.heapKiB)} -> ${mb(mm.after.heapKiB)} MiB`,
    );
  }
}

main();
