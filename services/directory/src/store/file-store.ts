// The file store: the whole records file parsed into a Map, replaced by one reference
// swap after a complete, successful parse. A lookup sees the old map or the new one,
// never an empty or half-built one; a file that fails to parse leaves the old map in place.
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Logger } from "../logger";
import type { DirectoryMetrics } from "../metrics";
import { ConfigError } from "../errors";
import { parseRecords } from "../records";
import type { DirectoryStore } from "./types";

export interface FileStoreOptions {
  path: string;
  log: Logger;
  metrics?: DirectoryMetrics;
  /** Polling interval, a fallback for file systems where fs.watch misses renames. */
  watchIntervalMs?: number;
}

export class FileDirectoryStore implements DirectoryStore {
  private records = new Map<string, string>();
  private signature = "";
  /** The loaded file was modified too recently for its signature to be trusted. */
  private racy = true;
  private watcher?: FSWatcher;
  private poll?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private reloading?: Promise<boolean>;
  private pending?: boolean;
  private loaded = false;

  constructor(private readonly opts: FileStoreOptions) {}

  get size(): number {
    return this.records.size;
  }

  lookup(atsign: string): string | null {
    return this.records.get(atsign) ?? null;
  }

  ready(): boolean {
    return this.loaded;
  }

  async start(): Promise<void> {
    try {
      await this.load(true);
    } catch (err) {
      throw new ConfigError(`--records: ${(err as Error).message}`);
    }
    // Watch the directory, not the file: an atomic rename replaces the file's inode.
    const dir = dirname(this.opts.path);
    const name = basename(this.opts.path);
    try {
      this.watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === null || file === name || file.startsWith("..")) this.scheduleReload();
      });
      this.watcher.on("error", (err) => this.opts.log.warn({ err }, "records watch failed"));
    } catch (err) {
      this.opts.log.warn({ err }, "fs.watch unavailable; polling only");
    }
    this.poll = setInterval(() => this.scheduleReload(), this.opts.watchIntervalMs ?? 2000);
    this.poll.unref();
  }

  async close(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    await this.reloading;
  }

  /** Re-reads the file (SIGHUP, or a change seen). Resolves true if the map changed. */
  reload(force = true): Promise<boolean> {
    if (this.reloading) {
      this.pending = (this.pending ?? false) || force;
      return this.reloading;
    }
    this.reloading = (async () => {
      let changed = false;
      try {
        changed = await this.load(force);
      } catch (err) {
        this.opts.metrics?.reloads.inc({ kind: "records", result: "error" });
        this.opts.log.error(
          { err: (err as Error).message },
          "records reload failed; keeping the previous records",
        );
      } finally {
        this.reloading = undefined;
      }
      if (this.pending !== undefined) {
        const rerunForced = this.pending;
        this.pending = undefined;
        return (await this.reload(rerunForced)) || changed;
      }
      return changed;
    })();
    return this.reloading;
  }

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(false), 20);
    this.debounce.unref();
  }

  private async load(force: boolean): Promise<boolean> {
    const st = await stat(this.opts.path);
    const signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    // An atomic rewrite can reuse the freed inode, keep the size and land in the same
    // coarse mtime tick, so a signature seen within a second of its mtime proves nothing:
    // re-read until the file has been quiet for a second.
    if (!force && signature === this.signature && !this.racy) return false;
    const readAt = Date.now();
    const text = await readFile(this.opts.path, "utf8");
    const records = parseRecords(text, this.opts.path);
    this.records = records;
    this.signature = signature;
    this.racy = readAt - st.mtimeMs < 1000;
    this.loaded = true;
    this.opts.metrics?.reloads.inc({ kind: "records", result: "ok" });
    this.opts.log.info({ records: records.size }, "records loaded");
    return true;
  }
}
