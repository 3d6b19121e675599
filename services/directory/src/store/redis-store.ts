// The Redis store (the cloud path): GET on the read endpoint, with AUTH and optional TLS,
// reconnecting with capped exponential backoff, and a bounded command timeout. Commands
// are never queued while disconnected: they fail at once so the caller can answer from
// its cache or close the connection instead of hanging.
//
// Lookups are coalesced into MGETs (get-batcher.ts).
//
// A second connection subscribes to the invalidation channel. Subscribe on the same
// endpoint the reads go to: PUBLISH travels down the replication stream after the SET
// it follows, so when a replica delivers the message it already has the new value.
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";
import type { DirectoryMetrics } from "../metrics";
import type { DirectoryStore } from "./types";
import { GetBatcher } from "./get-batcher";

export const DEFAULT_INVALIDATION_CHANNEL = "atdirectory:invalidate";
const MGET_MAX_KEYS = 256;

export interface RedisStoreOptions {
  url: string;
  password?: string;
  /** PEM of the CA that signs the server certificate; turns TLS on. */
  ca?: string;
  commandTimeoutMs: number;
  channel: string;
  log: Logger;
  metrics?: DirectoryMetrics;
  /** Wait this long in start() for the first connection (it is not fatal). */
  connectWaitMs?: number;
  onInvalidate?(atsign: string): void;
  /** The subscription was (re)confirmed; messages may have been missed before it. */
  onResubscribed?(): void;
}

/** Capped exponential backoff with jitter: 50 ms, 100 ms, ... up to 2 s. */
export function backoff(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function redisOptions(
  url: string,
  password: string | undefined,
  ca: string | undefined,
): RedisOptions {
  const u = new URL(url);
  const tls = u.protocol === "rediss:" || ca !== undefined;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: password ?? (u.password ? decodeURIComponent(u.password) : undefined),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: tls ? { ca, servername: isIP(host) ? undefined : host } : undefined,
  };
}

export class RedisDirectoryStore implements DirectoryStore {
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly batcher: GetBatcher;
  private closing = false;
  /** The invalidation subscription is confirmed and its connection has not dropped since. */
  private subscribed = false;

  constructor(private readonly opts: RedisStoreOptions) {
    const base: RedisOptions = {
      ...redisOptions(opts.url, opts.password, opts.ca),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs * 4),
      retryStrategy: (times) => (this.closing ? null : backoff(times)),
    };
    // Auto-pipelining batches the GETs of one event-loop tick into one write.
    this.client = new Redis({
      ...base,
      commandTimeout: opts.commandTimeoutMs,
      enableAutoPipelining: true,
    });
    // The subscriber (re)subscribes itself on every "ready" (below).
    this.subscriber = new Redis({
      ...base,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
    });
    let wasReady = false;
    for (const [role, conn] of [
      ["reads", this.client],
      ["subscriber", this.subscriber],
    ] as const) {
      conn.on("error", (err) => {
        if (this.closing) return;
        opts.metrics?.storeErrors.inc({ source: `redis_${role}` });
        opts.log.warn({ err: err.message, role }, "redis connection error");
      });
      conn.on("ready", () => opts.log.info({ role }, "redis connected"));
    }
    this.client.on("close", () => {
      if (!wasReady || this.closing) return;
      wasReady = false;
      opts.metrics?.storeErrors.inc({ source: "redis_disconnect" });
      opts.log.warn("redis connection lost; reconnecting");
    });
    this.client.on("ready", () => (wasReady = true));
    this.batcher = new GetBatcher((keys) => this.client.mget(keys), MGET_MAX_KEYS);
    // Messages sent while the subscription was down are lost, so once it is confirmed
    // again the cache must not trust anything it holds from before. Confirmed means the
    // SUBSCRIBE reply arrived (not merely "ready"), so nothing fetched after the
    // callback can have missed a message.
    this.subscriber.on("ready", () => {
      this.subscriber.subscribe(opts.channel).then(
        () => {
          if (this.subscriber.status !== "ready") return;
          this.subscribed = true;
          opts.onResubscribed?.();
        },
        (err: Error) => opts.log.warn({ err: err.message }, "redis subscribe failed"),
      );
    });
    this.subscriber.on("close", () => (this.subscribed = false));
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel === opts.channel) opts.onInvalidate?.(message);
    });
  }

  async lookup(atsign: string): Promise<string | null> {
    if (this.client.status !== "ready") {
      throw new StoreUnavailableError(`redis not connected (${this.client.status})`);
    }
    try {
      return await this.batcher.get(atsign);
    } catch (err) {
      throw new StoreUnavailableError(`redis MGET failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async lookupMany(atsigns: string[]): Promise<(string | null)[]> {
    if (this.client.status !== "ready") {
      throw new StoreUnavailableError(`redis not connected (${this.client.status})`);
    }
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < atsigns.length; i += MGET_MAX_KEYS) {
      chunks.push(this.client.mget(atsigns.slice(i, i + MGET_MAX_KEYS)));
    }
    try {
      return (await Promise.all(chunks)).flat();
    } catch (err) {
      throw new StoreUnavailableError(`redis MGET failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  ready(): boolean {
    return this.client.status === "ready";
  }

  /** Invalidations are arriving: the cache may answer from stale entries while it refreshes. */
  invalidationsLive(): boolean {
    return this.subscribed && this.ready();
  }

  async start(): Promise<void> {
    const wait = this.opts.connectWaitMs ?? 5000;
    // Connection failures are not fatal: ioredis keeps retrying, /readyz says 503.
    this.client.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
    const deadline = Date.now() + wait;
    while (!this.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (!this.ready()) this.opts.log.warn("redis not reachable yet; lookups close until it is");
  }

  async close(): Promise<void> {
    this.closing = true;
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
