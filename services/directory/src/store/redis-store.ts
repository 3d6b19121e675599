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
// Behind a load-balanced read endpoint the two connections may reach different
// replicas, so the message carries the new value (record-writer.ts, invalidation.ts).
//
// The node behind the reads connection is trusted only after its replication state and
// the sentinel key are checked (replica-health.ts): at every (re)connection before the
// first read, then every healthIntervalMs; each MGET also reads the sentinel key, so an
// emptied node is caught by the very read that would have answered `null`. A node found
// unfit is left (reconnect: a load balancer may pick another replica).
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";
import { StoreUnavailableError } from "../errors";
import type { Logger } from "../logger";
import type { DirectoryMetrics, StoreState } from "../metrics";
import type { DirectoryStore } from "./types";
import { GetBatcher } from "./get-batcher";
import { judge, parseInfo, type Fitness } from "./replica-health";
import { parseInvalidation } from "./invalidation";

export const DEFAULT_INVALIDATION_CHANNEL = "atdirectory:invalidate";
/** Written on the primary with every record change; absent on an empty or foreign dataset. */
export const DEFAULT_SENTINEL_KEY = "atdirectory:sentinel";
const MGET_MAX_KEYS = 256;

export interface RedisStoreOptions {
  url: string;
  password?: string;
  /** PEM of the CA that signs the server certificate; turns TLS on. */
  ca?: string;
  commandTimeoutMs: number;
  channel: string;
  /** Key the writer keeps on the primary; a node without it is not trusted. */
  sentinelKey?: string;
  /** How often the reads node's replication state is checked. */
  healthIntervalMs?: number;
  /** A replica that heard nothing from its primary for longer is degraded. */
  maxReplicaSilenceMs?: number;
  log: Logger;
  metrics?: DirectoryMetrics;
  /** Wait this long in start() for the first connection (it is not fatal). */
  connectWaitMs?: number;
  /** A record changed; `value` is its new value (null: deleted) when the message says. */
  onInvalidate?(atsign: string, value?: string | null): void;
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
  private readonly sentinelKey: string;
  /** Trust in the node behind the reads connection; "unfit" until checked after connecting. */
  private fitness: Fitness = "unfit";
  private fitnessReason = "not checked yet";
  private syncing = false;
  /** Bumped on every (re)connection, so a check of an older connection is ignored. */
  private connection = 0;
  private healthTimer?: NodeJS.Timeout;

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
    this.client.on("ready", () => {
      wasReady = true;
      void this.checkHealth(false);
    });
    this.client.on("close", () => {
      this.connection++;
      this.setFitness("unfit", "disconnected");
    });
    this.sentinelKey = opts.sentinelKey ?? DEFAULT_SENTINEL_KEY;
    this.batcher = new GetBatcher((keys) => this.mget(keys), MGET_MAX_KEYS - 1);
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
      if (channel !== opts.channel) return;
      const { atsign, value } = parseInvalidation(message);
      opts.onInvalidate?.(atsign, value);
    });
  }

  async lookup(atsign: string): Promise<string | null> {
    if (atsign === this.sentinelKey) return null; // not an atSign, never an address
    this.assertUsable();
    let value: string | null;
    try {
      value = await this.batcher.get(atsign);
    } catch (err) {
      throw new StoreUnavailableError(`redis MGET failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (value === null) this.assertNullTrusted();
    return value;
  }

  async lookupMany(atsigns: string[]): Promise<(string | null)[]> {
    this.assertUsable();
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < atsigns.length; i += MGET_MAX_KEYS - 1) {
      chunks.push(this.mget(atsigns.slice(i, i + MGET_MAX_KEYS - 1)));
    }
    let values: (string | null)[];
    try {
      values = (await Promise.all(chunks)).flat();
    } catch (err) {
      throw new StoreUnavailableError(`redis MGET failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    values = values.map((v, i) => (atsigns[i] === this.sentinelKey ? null : v));
    if (values.includes(null)) this.assertNullTrusted();
    return values;
  }

  ready(): boolean {
    return this.client.status === "ready" && this.fitness !== "unfit";
  }

  /** The reads node's state for the metrics (from the connection and the trust verdict). */
  get state(): StoreState {
    if (this.client.status !== "ready") return "unavailable";
    if (this.fitness === "ok") return "healthy";
    if (this.fitness === "degraded") return "degraded";
    return this.syncing ? "syncing" : "unavailable";
  }

  /** Invalidations are arriving: the cache may answer from stale entries while it refreshes. */
  invalidationsLive(): boolean {
    return this.subscribed && this.client.status === "ready" && this.fitness === "ok";
  }

  /** The sentinel key is read in the same MGET: an emptied node fails the read itself. */
  private async mget(keys: string[]): Promise<(string | null)[]> {
    const connection = this.connection;
    const values = await this.client.mget([this.sentinelKey, ...keys]);
    if (values[0] === null) {
      if (connection === this.connection) this.setFitness("unfit", "sentinel key missing");
      throw new Error("sentinel key missing on this node (empty or unpopulated dataset)");
    }
    return values.slice(1);
  }

  private assertUsable(): void {
    if (this.client.status !== "ready") {
      throw new StoreUnavailableError(`redis not connected (${this.client.status})`);
    }
    if (this.fitness === "unfit") {
      throw new StoreUnavailableError(`redis node not trusted: ${this.fitnessReason}`);
    }
  }

  private assertNullTrusted(): void {
    if (this.fitness !== "ok") {
      throw new StoreUnavailableError(`redis replica ${this.fitnessReason}: a null is not trusted`);
    }
  }

  /**
   * INFO replication + EXISTS sentinel on the reads connection. `leave`: a node still
   * unfit is disconnected so the reconnection may reach another replica.
   */
  private async checkHealth(leave: boolean): Promise<void> {
    const connection = this.connection;
    let info: string;
    let sentinel: number;
    try {
      [info, sentinel] = await Promise.all([
        this.client.info("replication"),
        this.client.exists(this.sentinelKey),
      ]);
    } catch (err) {
      if (connection === this.connection) {
        this.setFitness("unfit", `health check failed: ${(err as Error).message}`);
      }
      return;
    }
    if (connection !== this.connection || this.closing) return;
    const verdict = judge(parseInfo(info), sentinel === 1, this.opts.maxReplicaSilenceMs ?? 25_000);
    this.setFitness(verdict.fitness, verdict.reason, verdict.syncing);
    if (leave && verdict.fitness === "unfit") {
      this.opts.log.warn({ reason: verdict.reason }, "redis node unfit; reconnecting");
      this.client.disconnect(true);
    }
  }

  private setFitness(fitness: Fitness, reason: string, syncing = false): void {
    this.syncing = syncing;
    const was = this.fitness;
    this.fitness = fitness;
    this.fitnessReason = reason;
    if (was === fitness || this.closing) return;
    if (fitness !== "ok") this.opts.metrics?.storeErrors.inc({ source: `redis_${fitness}` });
    const level = fitness === "ok" ? "info" : "warn";
    this.opts.log[level]({ fitness, reason }, "redis reads node trust changed");
  }

  async start(): Promise<void> {
    const wait = this.opts.connectWaitMs ?? 5000;
    // Connection failures are not fatal: ioredis keeps retrying, /readyz says 503.
    this.client.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
    this.healthTimer = setInterval(() => {
      if (this.client.status === "ready") void this.checkHealth(this.fitness === "unfit");
    }, this.opts.healthIntervalMs ?? 1000);
    this.healthTimer.unref();
    const deadline = Date.now() + wait;
    while (!this.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (!this.ready()) this.opts.log.warn("redis not reachable yet; lookups close until it is");
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.healthTimer);
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
