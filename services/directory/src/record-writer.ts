// Writers used by the registrar to publish where an atSign's atServer is. Both are
// idempotent: setting the same value twice or deleting an absent atSign is not an error.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { Redis } from "ioredis";
import { checkHostPort, formatRecords, parseRecords, recordKey } from "./records";
import {
  DEFAULT_INVALIDATION_CHANNEL,
  DEFAULT_SENTINEL_KEY,
  redisOptions,
} from "./store/redis-store";
import { formatInvalidation } from "./store/invalidation";

export interface RecordWriter {
  /** Points `atsign` (with or without '@', any case) at `host:port`. */
  set(atsign: string, hostPort: string): Promise<void>;
  delete(atsign: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file store's writer: read, modify, write a temp file in the same directory, fsync,
 * rename over the records file. A directory watching the file sees either the old or
 * the new content, never a partial one. Writes from one process are serialised; use one
 * writer per records file.
 */
export class FileRecordWriter implements RecordWriter {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  async set(atsign: string, hostPort: string): Promise<void> {
    const key = recordKey(atsign);
    checkHostPort(hostPort);
    return this.update((m) => {
      if (m.get(key) === hostPort) return false;
      m.set(key, hostPort);
      return true;
    });
  }

  async delete(atsign: string): Promise<void> {
    const key = recordKey(atsign);
    return this.update((m) => m.delete(key));
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  private update(change: (records: Map<string, string>) => boolean): Promise<void> {
    const run = this.chain.then(async () => {
      const records = await this.read();
      if (change(records)) await this.write(formatRecords(records));
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async read(): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw err;
    }
    return parseRecords(text, this.path);
  }

  private async write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(this.path)}.${randomBytes(6).toString("hex")}.tmp`);
    const fh = await open(tmp, "w", 0o644);
    try {
      await fh.writeFile(text, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

export interface RedisRecordWriterOptions {
  /** redis:// or rediss:// URL of the primary (read-write) endpoint. */
  url: string;
  password?: string;
  ca?: string;
  /** Must match the directory's --redis-channel. */
  channel?: string;
  /** Must match the directory's --redis-sentinel-key. */
  sentinelKey?: string;
  commandTimeoutMs?: number;
}

/**
 * The Redis store's writer: SET/DEL on the primary, then PUBLISH the atSign and its new
 * value on the invalidation channel so every directory replaces its cached copy at once.
 * The same transaction sets the sentinel key: directories trust a node only while it
 * has it, so an emptied replica (or one that never received the dataset) reads as
 * unavailable, not as "every atSign unknown".
 */
export class RedisRecordWriter implements RecordWriter {
  private readonly client: Redis;
  readonly channel: string;
  readonly sentinelKey: string;

  constructor(opts: RedisRecordWriterOptions) {
    this.channel = opts.channel ?? DEFAULT_INVALIDATION_CHANNEL;
    this.sentinelKey = opts.sentinelKey ?? DEFAULT_SENTINEL_KEY;
    this.client = new Redis({
      ...redisOptions(opts.url, opts.password, opts.ca),
      lazyConnect: true,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 2,
    });
    this.client.on("error", () => undefined); // surfaced through the awaited commands
  }

  async set(atsign: string, hostPort: string): Promise<void> {
    const key = recordKey(atsign);
    checkHostPort(hostPort);
    await this.client
      .multi()
      .set(key, hostPort)
      .set(this.sentinelKey, "1")
      .publish(this.channel, formatInvalidation(key, hostPort))
      .exec();
  }

  async delete(atsign: string): Promise<void> {
    const key = recordKey(atsign);
    await this.client
      .multi()
      .del(key)
      .set(this.sentinelKey, "1")
      .publish(this.channel, formatInvalidation(key, null))
      .exec();
  }

  /**
   * Marks a new, legitimately empty dataset as the real one (every set/delete does too).
   * Never automatic: a primary that restarted empty must stay unmarked, so directories
   * close lookups instead of answering `null` for every atSign it lost.
   */
  async markPopulated(): Promise<void> {
    await this.client.set(this.sentinelKey, "1");
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
