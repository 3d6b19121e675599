// Connections from this atServer to other atServers: verified TLS (our CA bundle, the
// peer's host name), our client certificate, `from:@alice` + `pol` (Part B §5.3), pooled
// per atSign with a cap and an idle close.
import {
  AtClient,
  ConnectFailedError,
  HandshakeError,
  OutboundLimitError,
  rsaSign,
} from "@atplatform/protocol/src/core";
import type { KeyService } from "../data/key-service";
import type { Logger } from "../logger";
import { checkProof } from "./pol-challenge";
import type { AtSignResolver } from "./resolver";

export interface OutboundOptions {
  atSign: string;
  ca?: Buffer;
  cert: Buffer;
  key: Buffer;
  maxConnections: number;
  idleMs: number;
  /** Sign legacy (bare UUID, unbound) pol challenges (`--pol-legacy-challenges`). */
  legacyChallenges: boolean;
  now(): number;
  /** Our signing private key (base64 PKCS#8), created at first start. */
  signingKey(): Promise<string>;
}

interface Pooled {
  client: Promise<AtClient>;
  lastUsed: number;
}

const PROOF_TTL_MS = 60_000;

export class OutboundPool {
  private readonly pol = new Map<string, Pooled>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly opts: OutboundOptions,
    private readonly resolver: AtSignResolver,
    private readonly keys: KeyService,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.closeIdle(), Math.min(opts.idleMs, 30_000));
    this.timer.unref();
  }

  get size(): number {
    return this.pol.size;
  }

  /** An unauthenticated connection to `atSign`'s server (caller closes it). */
  async anonymous(atSign: string, timeoutMs = 5000): Promise<AtClient> {
    const addr = await this.resolver.resolve(atSign);
    try {
      return await AtClient.connect({
        ...addr,
        ca: this.opts.ca,
        cert: this.opts.cert,
        key: this.opts.key,
        timeoutMs,
      });
    } catch (err) {
      throw new ConnectFailedError(`cannot connect to ${atSign}: ${(err as Error).message}`);
    }
  }

  /** A pooled connection on which `atSign`'s server knows us as this atSign (pol). */
  async polClient(atSign: string): Promise<AtClient> {
    const entry = this.pol.get(atSign);
    if (entry) {
      entry.lastUsed = this.opts.now();
      try {
        const c = await entry.client;
        if (!c.isClosed) return c;
      } catch {
        // a failed handshake: try again below
      }
      this.pol.delete(atSign);
    }
    if (this.pol.size >= this.opts.maxConnections) this.closeIdle(true);
    if (this.pol.size >= this.opts.maxConnections) {
      throw new OutboundLimitError("Outbound connection limit exceeded");
    }
    const client = this.handshake(atSign);
    this.pol.set(atSign, { client, lastUsed: this.opts.now() });
    try {
      return await client;
    } catch (err) {
      this.pol.delete(atSign);
      throw err;
    }
  }

  private async handshake(atSign: string): Promise<AtClient> {
    const c = await this.anonymous(atSign, 10_000);
    try {
      const proof = await c.execute(`from:${this.opts.atSign}`);
      const m = /^proof:([^:]+):(.+)$/.exec(proof);
      if (!m) throw new HandshakeError(`unexpected from: answer from ${atSign}`);
      const [, sessionKey, challenge] = m as unknown as [string, string, string];
      const nonce = challenge.trim();
      checkProof(sessionKey, nonce, this.opts.atSign, atSign, this.opts.legacyChallenges);
      // The peer reads this back with an unauthenticated `lookup:<session>@<us>`.
      const signature = rsaSign(await this.opts.signingKey(), nonce);
      this.keys.put(`public:${sessionKey}`, signature, { ttl: PROOF_TTL_MS });
      const reply = await c.send("pol");
      if (!reply.startsWith(`${this.opts.atSign}@`)) {
        throw new HandshakeError(`pol with ${atSign} failed: ${reply}`);
      }
      this.log.debug({ peer: atSign }, "pol handshake done");
      return c;
    } catch (err) {
      c.destroy();
      throw err;
    }
  }

  private closeIdle(force = false): void {
    const now = this.opts.now();
    for (const [atSign, e] of this.pol) {
      if (force || now - e.lastUsed > this.opts.idleMs) {
        this.pol.delete(atSign);
        e.client.then((c) => c.close()).catch(() => undefined);
        if (force) return;
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of this.pol.values()) e.client.then((c) => c.destroy()).catch(() => undefined);
    this.pol.clear();
  }
}
