// DirectoryServer: the library class behind the `atdirectory` bin and the local
// platform's in-process root. create() validates and builds collaborators, start()
// binds the ports, stop() drains gracefully.
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { resolveConfig, type DirectoryConfig } from "./config";
import { createLogger, type Logger } from "./logger";
import { DirectoryMetrics } from "./metrics";
import { DirectorySession, LogLimiter, type SessionContext } from "./session";
import { ConnectionTracker } from "./connections";
import { IpMissBudget } from "./ip-budget";
import { AddressList } from "./address-list";
import { TlsListener } from "./tls-listener";
import { OpsHttpServer } from "./ops-http";
import { readPem, readPemList } from "./pem";
import type { DirectoryStore } from "./store/types";
import { FileDirectoryStore } from "./store/file-store";
import { MemoryDirectoryStore } from "./store/memory-store";
import { RedisDirectoryStore } from "./store/redis-store";
import { CachingStore } from "./store/caching-store";
import { UpstreamStore } from "./store/upstream-store";
import { FallbackStore } from "./store/fallback-store";

export interface DirectoryServerOptions {
  logger?: Logger;
  /** Use this store instead of the one the config names (tests, embedding). */
  store?: DirectoryStore;
}

export interface DirectoryAddress {
  /** The bound TLS port (useful with port 0). */
  port: number;
  /** The bound ops HTTP port, or undefined when it is off. */
  httpPort?: number;
}

export class DirectoryServer {
  private readonly ipBudget: IpMissBudget;
  private readonly listener: TlsListener;
  private readonly ops?: OpsHttpServer;
  private readonly sessionCtx: SessionContext;
  private idleReaper?: NodeJS.Timeout;
  private draining = false;
  private stopping?: Promise<void>;
  private started = false;
  private address?: DirectoryAddress;

  private constructor(
    readonly config: DirectoryConfig,
    readonly log: Logger,
    readonly store: DirectoryStore,
    /** The file store when there is one (SIGHUP reloads it). */
    readonly fileStore: FileDirectoryStore | undefined,
    readonly metrics: DirectoryMetrics,
    private readonly tracker: ConnectionTracker<DirectorySession>,
  ) {
    this.ipBudget = new IpMissBudget(
      config.ipMissBudget,
      config.ipMissWindowMs,
      Date.now,
      config.ipBudgetExempt,
    );
    this.sessionCtx = {
      store,
      metrics: this.metrics,
      log: log.child({ subsystem: "session" }),
      ipBudget: this.ipBudget,
      throttleDelayMs: config.throttleDelayMs,
      throttleCloseAfter: config.throttleCloseAfter,
      unavailableLog: new LogLimiter(1000),
      onClose: (s) => this.tracker.remove(s),
    };
    this.listener = new TlsListener({
      host: config.host,
      port: config.port,
      cert: config.cert,
      key: config.key,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      // Headroom above the session cap for connections still in their TLS handshake.
      maxSockets: config.maxConnections + Math.max(64, Math.ceil(config.maxConnections / 10)),
      watchIntervalMs: config.watchIntervalMs,
      log: log.child({ subsystem: "tls" }),
      metrics: this.metrics,
      onConnection: (socket: TLSSocket) => this.handle(socket, socket.remoteAddress ?? "unknown"),
    });
    if (config.httpPort >= 0) {
      this.ops = new OpsHttpServer({
        host: config.httpHost,
        port: config.httpPort,
        log: log.child({ subsystem: "ops" }),
        ready: () => this.ready(),
        metrics: () => this.metrics.render(),
      });
    }
  }

  /** Validates the config (filling defaults) and builds the stores; binds nothing yet. */
  static async create(
    input: Partial<DirectoryConfig>,
    options: DirectoryServerOptions = {},
  ): Promise<DirectoryServer> {
    const config = resolveConfig(input, { storeProvided: options.store !== undefined });
    const log = options.logger ?? createLogger(config.logLevel);
    // Fail early on unreadable certificates, with the flag's name in the message.
    readPemList(config.cert, "--cert");
    readPemList(config.key, "--key");
    const storeLog = log.child({ subsystem: "store" });
    const tracker = new ConnectionTracker<DirectorySession>({
      max: config.maxConnections,
      perIp: config.maxConnectionsPerIp,
      exempt: new AddressList(config.ipBudgetExempt),
    });
    const metrics = new DirectoryMetrics(() => tracker.size);
    let fileStore: FileDirectoryStore | undefined;
    let store: DirectoryStore;
    if (options.store) {
      store = options.store;
    } else if (config.records) {
      fileStore = new FileDirectoryStore({
        path: config.records,
        log: storeLog,
        metrics,
        watchIntervalMs: config.watchIntervalMs,
      });
      store = fileStore;
    } else if (config.redis) {
      const cache: CachingStore = new CachingStore({
        name: "redis",
        ttlMs: config.cacheTtlMs,
        cacheNegative: true,
        maxStaleMs: config.cacheMaxStaleMs,
        invalidationsLive: () => redis.invalidationsLive(),
        metrics,
      });
      const redis: RedisDirectoryStore = new RedisDirectoryStore({
        url: config.redis,
        password: config.redisPassword,
        ca: config.redisCa ? readPem(config.redisCa, "--redis-ca") : undefined,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        channel: config.redisChannel,
        sentinelKey: config.redisSentinelKey,
        healthIntervalMs: config.redisHealthIntervalMs,
        maxReplicaSilenceMs: config.redisMaxReplicaSilenceMs,
        log: storeLog,
        metrics,
        onInvalidate: (atsign, value) =>
          value === undefined ? cache.invalidate(atsign) : cache.update(atsign, value),
        onResubscribed: () => cache.expireAll(),
      });
      metrics.storeState = () => redis.state;
      cache.setInner(redis);
      store = cache;
    } else {
      store = new MemoryDirectoryStore();
    }
    if (config.upstream) {
      const upstream = new UpstreamStore({
        address: config.upstream,
        ca: config.upstreamCa ? readPem(config.upstreamCa, "--upstream-ca") : undefined,
        timeoutMs: config.upstreamTimeoutMs,
        connections: config.upstreamConnections,
        log: log.child({ subsystem: "upstream" }),
        metrics,
      });
      const cached = new CachingStore({
        name: "upstream",
        ttlMs: config.upstreamCacheTtlMs,
        cacheNegative: false,
        metrics,
      });
      cached.setInner(upstream);
      store = new FallbackStore(store, cached);
    }
    return new DirectoryServer(config, log, store, fileStore, metrics, tracker);
  }

  /** Starts the store, then the TLS and ops listeners. */
  async start(): Promise<DirectoryAddress> {
    if (this.started) return this.address!;
    this.started = true;
    await this.store.start();
    let port: number;
    let httpPort: number | undefined;
    try {
      port = await this.listener.listen();
      httpPort = await this.ops?.listen();
    } catch (err) {
      await this.listener.close().catch(() => undefined);
      await this.store.close();
      this.ipBudget.close();
      this.metrics.close();
      throw err;
    }
    this.startIdleReaper();
    this.address = { port, httpPort };
    this.log.info({ port, httpPort, host: this.config.host }, "atDirectory listening");
    return this.address;
  }

  get port(): number | undefined {
    return this.address?.port;
  }

  get httpPort(): number | undefined {
    return this.address?.httpPort;
  }

  get openConnections(): number {
    return this.tracker.size;
  }

  /** Serves one client connection on any duplex stream (the TLS listener's entry point). */
  handle(stream: Duplex, remoteIp: string): DirectorySession {
    const session = new DirectorySession(stream, remoteIp, this.sessionCtx);
    if (this.draining) {
      stream.destroy();
      return session;
    }
    this.metrics.accepted();
    this.tracker.add(session);
    session.start();
    return session;
  }

  ready(): boolean {
    return this.started && !this.stopping && this.store.ready();
  }

  /** SIGHUP: re-read the records file and the certificate. */
  async reload(): Promise<void> {
    this.listener.reloadCertificate();
    await this.fileStore?.reload(true);
  }

  /**
   * Graceful drain: /readyz fails at once; after shutdownDelayMs stop accepting, let
   * every connection finish the lookups it already sent (bounded by drainTimeoutMs),
   * then close the stores.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.config.shutdownDelayMs > 0) {
      // /readyz already fails; load balancers take a moment to stop sending new clients.
      this.log.info({ delayMs: this.config.shutdownDelayMs }, "not ready; draining soon");
      await new Promise((r) => setTimeout(r, this.config.shutdownDelayMs));
    }
    this.draining = true;
    clearInterval(this.idleReaper);
    this.log.info({ connections: this.tracker.size }, "draining");
    const closing = this.listener.close();
    const drains = Promise.all(this.tracker.all().map((s) => s.drain()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.drainTimeoutMs);
    });
    await Promise.race([drains, timeout]);
    clearTimeout(timer);
    for (const s of this.tracker.all()) s.destroy("drain timeout");
    this.listener.destroyAll();
    await closing;
    await this.ops?.close();
    this.ipBudget.close();
    await this.store.close();
    this.metrics.close();
    this.log.info("stopped");
  }

  /**
   * Idle close: always after --idle-timeout-ms (off by default: clients keep one root
   * connection for life, at_python never reopens it), and after the shorter
   * --idle-timeout-under-load-ms once half the connection cap is used, so a filling
   * pool sheds idle connections before the cap starts evicting.
   */
  private startIdleReaper(): void {
    const { idleTimeoutMs: always, idleTimeoutUnderLoadMs: loaded } = this.config;
    const limits = [always, loaded].filter((ms) => ms > 0);
    if (limits.length === 0) return;
    this.idleReaper = setInterval(
      () => {
        const underLoad = loaded > 0 && this.tracker.size * 2 >= this.tracker.max;
        const idleMs = underLoad ? Math.min(...limits) : always;
        if (idleMs <= 0) return;
        const cutoff = performance.now() - idleMs;
        const reason = idleMs === always ? "idle timeout" : "idle timeout under load";
        for (const s of this.tracker.idleBefore(cutoff)) s.destroy(reason);
      },
      Math.min(...limits, 1000),
    );
    this.idleReaper.unref();
  }
}
