// AtServer: one atSign's server as a library (create → start → stop). The protocol engine
// takes any Duplex (`handle`); the TLS listener only adapts sockets to it.
import { EventEmitter } from "node:events";
import { chmodSync, mkdirSync } from "node:fs";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { InboundLimitError, refusalLine } from "@atplatform/protocol/src/core";
import { readCramSecret, type AtServerConfig } from "./config";
import type { CommitEvent, Peers, ServerContext } from "./context";
import { KeyService } from "./data/key-service";
import { WriteBatcher } from "./data/write-batcher";
import { Connection } from "./engine/connection";
import { Session } from "./engine/session";
import { ConnectionPool } from "./engine/connection-pool";
import type { Dispatcher } from "./engine/dispatch";
import { MonitorHub } from "./engine/monitors";
import { createLoggers, type Logger, type Loggers } from "./logger";
import { RuntimeSettings } from "./runtime-settings";
import { KeyStore } from "./store";
import { TlsListener } from "./tls-listener";
import { createDispatcher } from "./verbs";
import { Federation } from "./federation/federation";
import { OutboundPool } from "./federation/outbound";
import { AtSignResolver } from "./federation/resolver";
import { SigningKeys } from "./federation/signing-keys";
import { readFileSync } from "node:fs";
import { NotificationStore } from "./notifications/notification-store";
import { PeerRate } from "./notifications/peer-rate";
import { NotificationQueue } from "./notifications/queue";
import { NotificationService } from "./notifications/service";
import { Enrollments } from "./apkam/enrollments";
import { EnrollmentGuard, SELF_REVOKE_CLOSE_MS } from "./engine/enrollment-guard";
import { SERVER_VERSION } from "./version";
import { Usage } from "./stats/usage";
import { PURPOSE_ERROR } from "./federation/peer-certificate";
import type { MetricsEndpoint } from "./metrics/exporter";

export interface AtServerOptions {
  /** Root pino logger (default: stderr at cfg.logLevel). */
  logger?: Logger;
  now?: () => number;
  /** Cross-server operations (federation); absent = this server talks to no one. */
  peers?: Peers;
  /** Delay before closing a connection that revoked its own enrollment (default 10 s). */
  selfRevokeCloseMs?: number;
}

/** How long a refused connection (AT0012) may stay open for its error line to be read. */
const REFUSED_LINGER_MS = 2000;

export class AtServer {
  readonly ctx: ServerContext;
  readonly pool: ConnectionPool;
  readonly monitors: MonitorHub;
  readonly log: Loggers;
  private readonly dispatcher: Dispatcher;
  private readonly notificationStore: NotificationStore;
  private listener?: TlsListener;
  private timers: NodeJS.Timeout[] = [];
  private boundPort?: number;
  private stopping?: Promise<void>;
  private signingKeys?: Promise<void>;
  readonly signing: SigningKeys;
  readonly outbound?: OutboundPool;
  readonly queue?: NotificationQueue;
  readonly enrollmentGuard: EnrollmentGuard;
  private metricsEndpoint?: MetricsEndpoint;
  /** The metrics endpoint's bound port, when --metrics-port is set. */
  metricsPort?: number;

  private constructor(
    readonly config: AtServerConfig,
    private readonly store: KeyStore,
    log: Loggers,
    opts: AtServerOptions,
  ) {
    this.log = log;
    const now = opts.now ?? Date.now;
    const runtime = new RuntimeSettings(config);
    this.pool = new ConnectionPool(
      {
        cap: () => runtime.int("inboundMaxLimit"),
        unauthIdleMs: config.unauthIdleMs,
        authIdleMs: config.authIdleMs,
        perIp: config.unauthPerIp,
        ownerReserve: config.ownerReservedConnections,
        unauthLifetimeMs: config.unauthLifetimeMs,
      },
      now,
    );
    this.monitors = new MonitorHub(this.pool);
    const events = new EventEmitter();
    this.ctx = {
      atSign: config.atSign,
      config,
      keys: new KeyService(store, config.atSign, now),
      writes: new WriteBatcher(store),
      log,
      now,
      startedAt: now(),
      version: SERVER_VERSION,
      runtime,
      connections: { inbound: () => this.pool.size, outbound: () => this.outbound?.size ?? 0 },
      events,
      facts: {},
      usage: new Usage(),
      peers: opts.peers,
    };
    this.signing = new SigningKeys(
      this.ctx.keys,
      config.atSign,
      log.server.child({ sub: "signing-keys" }),
      () => store.isOpen,
    );
    if (!opts.peers && config.root) {
      const [host, port] = config.root.split(":") as [string, string];
      const ca = config.ca ? readFileSync(config.ca) : undefined;
      const resolver = new AtSignResolver({ host, port: Number(port) }, ca, now);
      this.outbound = new OutboundPool(
        {
          atSign: config.atSign,
          ca,
          cert: readFileSync(config.clientCert ?? config.cert),
          key: readFileSync(config.clientKey ?? config.key),
          maxConnections: config.outboundMaxLimit,
          idleMs: config.outboundIdleMs,
          legacyChallenges: config.polLegacyChallenges,
          now,
          signingKey: () => this.signingPrivateKey(),
        },
        resolver,
        this.ctx.keys,
        log.server.child({ sub: "outbound" }),
      );
      this.ctx.peers = new Federation(
        {
          atSign: config.atSign,
          clientCertificateRequired: config.clientCertificateRequired,
          polHandshakesPerMinute: config.polHandshakesPerMinute,
          trustedCa: () => this.listener?.ca ?? ca,
          now,
        },
        this.ctx.keys,
        this.outbound,
        resolver,
        log.server.child({ sub: "federation" }),
      );
    }
    events.on("commit", (e: CommitEvent) => {
      if (e.commitId >= 0) this.monitors.pushStats(config.atSign, e.commitId, e.operation, now());
    });
    const notificationStore = new NotificationStore(store, now, config.maxNotifications, {
      perSenderBytes: config.notifyPeerQuotaBytes,
      totalBytes: config.notifyQuotaBytes,
    });
    this.notificationStore = notificationStore;
    if (this.outbound) {
      this.queue = new NotificationQueue(
        notificationStore,
        this.outbound,
        {
          maxRetries: () => runtime.int("maxNotificationRetries"),
          now,
          quarantineMs: config.notificationQuarantineMs,
          jobMs: config.notificationJobMs,
        },
        log.server.child({ sub: "notify-queue" }),
      );
    }
    this.ctx.notifications = new NotificationService(
      {
        atSign: config.atSign,
        defaultTtlnMs: config.notificationExpiryMs,
        autoNotify: () => runtime.bool("autoNotify"),
        now,
        peerRate: new PeerRate(() => config.notifyPeerBytesPerMinute, now),
      },
      notificationStore,
      this.ctx.keys,
      this.monitors,
      this.queue,
      log.server.child({ sub: "notifications" }),
    );
    events.on("commit", (e: CommitEvent) => this.ctx.notifications?.onCommit(e));
    this.ctx.enrollments = new Enrollments(this.ctx);
    this.enrollmentGuard = new EnrollmentGuard(this.pool, this.ctx.enrollments, now, {
      selfRevokeCloseMs: opts.selfRevokeCloseMs ?? SELF_REVOKE_CLOSE_MS,
      log: log.conn,
    });
    this.dispatcher = createDispatcher(this.ctx);
  }

  /** Opens the store (exclusively: throws StoreLockedError if another process has it). */
  static create(config: AtServerConfig, opts: AtServerOptions = {}): AtServer {
    const log = createLoggers(config.logLevel, config.atSign, opts.logger);
    // The storage holds keys and the CRAM secret: private to this user, even if it existed.
    mkdirSync(config.storage, { recursive: true, mode: 0o700 });
    chmodSync(config.storage, 0o700);
    const store = KeyStore.open(config.storage, { now: opts.now, logger: log.store });
    try {
      const server = new AtServer(config, store, log, opts);
      const secret = readCramSecret(config);
      if (secret !== undefined && server.ctx.keys.importCramSecret(secret)) {
        log.server.info("CRAM secret imported from the secret file");
      }
      return server;
    } catch (err) {
      store.close();
      throw err;
    }
  }

  get port(): number {
    if (this.boundPort === undefined) throw new Error("not started");
    return this.boundPort;
  }

  /** Serves one client over any Duplex stream. */
  handle(stream: Duplex, remote = "local"): Connection | undefined {
    const conn = new Connection(stream, this.dispatcher, this.config.atSign, remote, {
      log: this.log.conn,
      now: this.ctx.now,
      afterCommand: (c) => this.enrollmentGuard.watch(c),
      limits: this.config,
    });
    const admission = this.pool.admit(conn);
    this.ctx.metrics?.connection(admission);
    if (admission !== "admitted") {
      stream.end(`${refusalLine(new InboundLimitError())}\n`);
      // A refused client that never closes its side must not hold the socket.
      setTimeout(() => stream.destroy(), REFUSED_LINGER_MS).unref();
      this.log.conn.warn(
        { remote, size: this.pool.size, reason: admission },
        "inbound connection refused",
      );
      return undefined;
    }
    conn.start();
    return conn;
  }

  async start(): Promise<void> {
    this.listener = new TlsListener(
      { cert: this.config.cert, key: this.config.key, ca: this.config.ca },
      this.log.tls,
      (socket: TLSSocket) => this.onSocket(socket),
    );
    this.boundPort = await this.listener.listen(this.config.port, this.config.host);
    this.listener.watch(this.config.certPollMs);
    this.every(this.config.expirySweepMs, () => this.sweep());
    this.every(10_000, () => this.pool.reap());
    this.every(24 * 3600_000, () => {
      this.refreshCache().catch((err: Error) =>
        this.log.jobs.error({ err: err.message }, "cache refresh failed"),
      );
    });
    if (this.config.statsNotificationMs > 0) {
      this.every(this.config.statsNotificationMs, () => {
        if (this.monitors.count === 0) return;
        const id = this.store.lastCommitId();
        this.monitors.pushStats(this.config.atSign, id, "update", this.ctx.now());
      });
    }
    if (this.config.metricsPort !== undefined) await this.startMetrics(this.config.metricsPort);
    this.log.server.info({ port: this.boundPort, host: this.config.host }, "atServer listening");
    this.signingKeys = this.ensureSigningKeys();
  }

  /** Loads the metrics code (only now: off costs nothing) and opens its endpoint. */
  private async startMetrics(port: number): Promise<void> {
    // A lazy require (not import()): it works the same under tsx's CJS hook and in the bundle.
    const { AtServerMetrics, MetricsEndpoint } =
      require("./metrics/exporter") as typeof import("./metrics/exporter");
    const store = this.notificationStore;
    const metrics = new AtServerMetrics({
      atSign: this.config.atSign,
      version: SERVER_VERSION,
      storage: this.config.storage,
      connections: () => this.pool,
      queueDepth: () => store.pendingCount,
    });
    this.ctx.metrics = metrics;
    this.ctx.writes.onCommit = (seconds, writes) => metrics.commit(seconds, writes);
    if (this.queue) this.queue.onDelivered = (ms) => metrics.delivered(ms);
    this.metricsEndpoint = new MetricsEndpoint(metrics, this.log.server);
    this.metricsPort = await this.metricsEndpoint.listen(port, this.config.metricsHost);
  }

  /** Resolves once first-start housekeeping (creating the signing key pair) is done. */
  async settled(): Promise<void> {
    await this.signingKeys;
  }

  /** Refreshes cached copies of other atSigns' keys whose refreshAt passed (also daily). */
  async refreshCache(): Promise<number> {
    const f = this.ctx.peers;
    if (!(f instanceof Federation)) return 0;
    return f.refreshCache(new Session(this.config.atSign, "cache-refresh"));
  }

  /** Reloads the TLS certificate now (also happens on file change and on the `restart` file). */
  reloadCertificate(): boolean {
    return this.listener?.reload() ?? false;
  }

  /**
   * Housekeeping (every `expirySweepMs`): the expired-key sweep, the trim of the lookup
   * counters and of the notification index; each run is recorded for `stats` 12/13/14.
   */
  sweep(): number {
    const usage = this.ctx.usage;
    const now = this.ctx.now;
    let n = 0;
    let t = now();
    try {
      n = this.store.sweepExpired();
      if (n > 0) this.log.jobs.info({ removed: n }, "expired keys swept");
      usage.record("commitLog", "CommitLogCompaction", t, now() - t, null, null, n);
    } catch (err) {
      this.log.jobs.error({ err }, "expiry sweep failed");
    }
    t = now();
    const pre = usage.atSigns.size + usage.keys.size;
    const trimmed = usage.atSigns.trim() + usage.keys.trim();
    usage.record("accessLog", "AccessLogCompaction", t, now() - t, pre, pre - trimmed, trimmed);
    t = now();
    const { before, after } = this.notificationStore.prune();
    usage.record(
      "notifications",
      "NotificationCompaction",
      t,
      now() - t,
      before,
      after,
      before - after,
    );
    return n;
  }

  /** Stops accepting, closes connections (giving them `shutdownGraceMs`), closes the store. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.queue?.stop();
    this.outbound?.close();
    const closed = this.listener?.close();
    await this.metricsEndpoint?.close();
    this.pool.closeAll();
    const grace = new Promise<void>((r) => setTimeout(r, this.config.shutdownGraceMs).unref());
    await Promise.race([closed, grace]);
    this.store.close();
    this.log.server.info("atServer stopped");
  }

  private onSocket(socket: TLSSocket): void {
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn = this.handle(socket, remote);
    if (conn) {
      const peer = socket.getPeerCertificate();
      if (peer && Object.keys(peer).length > 0) {
        const authorizationError = socket.authorizationError?.toString();
        conn.session.peerCertificate = {
          subjectaltname: peer.subjectaltname,
          authorized: socket.authorized,
          authorizationError,
          chain: authorizationError === PURPOSE_ERROR ? socket.getPeerCertificate(true) : undefined,
        };
      }
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Our signing private key (base64 PKCS#8), waiting for its creation on a first start. */
  private async signingPrivateKey(): Promise<string> {
    await this.signingKeys;
    return this.signing.ensure();
  }

  /** The signing key pair: created on a first start, checked (and repaired) on every start. */
  private async ensureSigningKeys(): Promise<void> {
    try {
      await this.signing.ensure();
    } catch (err) {
      this.log.server.error({ err }, "could not create the signing key pair");
    }
  }
}
