// Cross-server operations (Part B §3.8, §3.9, §5.3, §6.3): lookups of other atSigns' keys
// with caching, relayed scans, and verification of peers that `pol` in.
import {
  AtError,
  AuthFailedError,
  KeyNotFoundError,
  normalizeAtSign,
  rsaVerify,
  type MetadataInput,
} from "@atplatform/protocol/src/core";
import type { Peers, RemoteLookup } from "../context";
import type { KeyService, KeyRecord } from "../data/key-service";
import type { Session } from "../engine/session";
import type { Logger } from "../logger";
import { answer } from "../verbs/read";
import type { OutboundPool } from "./outbound";
import { HandshakeLimiter } from "./handshake-limiter";
import { certificateNames, peerChainTrusted } from "./peer-certificate";
import { PeerKeyCache } from "./peer-keys";
import type { AtSignResolver } from "./resolver";

const PUBLIC_CACHE_TTL_MS = 24 * 3600_000;
const CACHED_ATTRS = [
  "ttr",
  "ccd",
  "isBinary",
  "isEncrypted",
  "dataSignature",
  "sharedKeyEnc",
  "pubKeyCS",
  "encoding",
  "encKeyName",
  "encAlgo",
  "ivNonce",
  "skeEncKeyName",
  "skeEncAlgo",
] as const;

interface RemoteAll {
  key?: string;
  data: string | null;
  metaData?: Record<string, unknown> | null;
}

/** The owner's attributes a cached copy keeps. */
function cachedInput(meta: Record<string, unknown> | null | undefined): MetadataInput {
  const out: Record<string, unknown> = {};
  for (const a of CACHED_ATTRS) {
    const v = meta?.[a];
    if (v !== undefined && v !== null) out[a] = v;
  }
  return out as MetadataInput;
}

export interface FederationOptions {
  atSign: string;
  clientCertificateRequired: boolean;
  /** Inbound handshakes per peer atSign and per IP per minute (default 30). */
  polHandshakesPerMinute?: number;
  /** The CA bundle inbound client certificates must chain to (undefined: the system store). */
  trustedCa?: () => Buffer | undefined;
  now(): number;
}

/**
 * One address may carry many peers' handshakes: Docker's ingress routing mesh and NATs
 * rewrite source addresses, so the per-IP budget is this many times the per-atSign one.
 */
export const IP_WEIGHT = 10;

export class Federation implements Peers {
  private readonly limiter: HandshakeLimiter;
  /** Peers' signing public keys for inbound pol (bounded, 10 min). */
  readonly peerKeys: PeerKeyCache;
  /** How often a peer's signing key was fetched for pol (tests, diagnostics). */
  peerKeyFetches = 0;

  constructor(
    private readonly opts: FederationOptions,
    private readonly keys: KeyService,
    readonly outbound: OutboundPool,
    private readonly resolver: AtSignResolver,
    private readonly log: Logger,
  ) {
    this.limiter = new HandshakeLimiter(opts.polHandshakesPerMinute ?? 30, () => opts.now());
    this.peerKeys = new PeerKeyCache(() => opts.now());
  }

  private limit(s: Session, atSign: string): void {
    if (
      !this.limiter.allow(`as:${normalizeAtSign(atSign)}`, [
        `ip:${s.remote.replace(/:\d+$/, "")}`,
        IP_WEIGHT,
      ])
    ) {
      this.log.warn({ peer: atSign, remote: s.remote }, "inbound handshake rate limit");
      throw new AuthFailedError("Pol Authentication Failed: too many handshakes, try later");
    }
  }

  /** A cached copy is fresh while ttr is -1 or refreshAt has not passed. */
  private fresh(r: KeyRecord): boolean {
    if (!this.keys.isActive(r)) return false;
    if (r.metadata.ttr === -1) return true;
    return r.metadata.refreshAt !== undefined && this.opts.now() <= r.metadata.refreshAt;
  }

  async lookup(_s: Session, req: RemoteLookup): Promise<string> {
    const me = this.opts.atSign;
    const shown = `${me}:${req.key}${req.owner}`.toLowerCase();
    const cacheKey = `cached:${shown}`;
    if (!req.bypassCache) {
      const hit = this.keys.find(cacheKey);
      if (hit && this.fresh(hit)) return answer(hit, req.op, shown);
    }
    const c = await this.outbound.polClient(req.owner);
    const remote = await this.remoteAll(
      () => c.execute(`lookup:all:${req.key}${req.owner}`),
      cacheKey,
      shown,
    );
    if (remote === null) return "null";
    const ttr = remote.metaData?.ttr;
    if (typeof ttr === "number" && ttr !== 0) {
      this.keys.put(cacheKey, remote.data, cachedInput(remote.metaData), req.owner);
    }
    return this.format(remote, req.op, shown);
  }

  async plookup(_s: Session, req: RemoteLookup): Promise<string> {
    const shown = `public:${req.key}${req.owner}`.toLowerCase();
    const cacheKey = `cached:${shown}`;
    if (!req.bypassCache) {
      const hit = this.keys.find(cacheKey);
      if (hit && this.fresh(hit)) return answer(hit, req.op, shown);
    }
    const c = await this.outbound.anonymous(req.owner);
    try {
      const remote = await this.remoteAll(
        () => c.execute(`lookup:all:${req.key}${req.owner}`),
        cacheKey,
        shown,
      );
      if (remote === null) throw new KeyNotFoundError(shown);
      const input = cachedInput(remote.metaData);
      if (req.key.toLowerCase() === "publickey") {
        input.ttr = -1;
        this.onPublicKey(req.owner, cacheKey, remote.data);
      } else if (input.ttr === undefined) input.ttl = PUBLIC_CACHE_TTL_MS;
      this.keys.put(cacheKey, remote.data, input, req.owner);
      return this.format(remote, req.op, shown);
    } finally {
      c.destroy();
    }
  }

  /**
   * A peer's encryption key changed: our shared key for it was encrypted for the old one, so
   * `shared_key.<peer>@alice` is kept as `shared_key.<peer>.until.<ms>@alice` (§6.3) and the
   * client creates a new one.
   */
  private onPublicKey(peer: string, cacheKey: string, value: string | null): void {
    const old = this.keys.find(cacheKey);
    if (!old || old.value === value) return;
    const me = this.opts.atSign;
    const name = `shared_key.${peer.slice(1)}${me}`;
    const shared = this.keys.find(name);
    if (!shared || shared.value === null) return;
    this.keys.put(`shared_key.${peer.slice(1)}.until.${this.opts.now()}${me}`, shared.value, {});
    this.keys.delete(name);
    this.log.info({ peer }, "peer's public key changed: shared key renamed");
  }

  /** Refreshes cached copies whose refreshAt has passed (run daily and on demand). */
  async refreshCache(session: Session): Promise<number> {
    const now = this.opts.now();
    const me = this.opts.atSign;
    let n = 0;
    for (const key of [...this.keys.store.keys({ regex: /^cached:/ })]) {
      const r = this.keys.find(key);
      if (!r || r.metadata.refreshAt === undefined || r.metadata.refreshAt > now) continue;
      const m = /^cached:(public|@[^:@\s]+):(.+)(@[^:@\s]+)$/.exec(key);
      if (!m) continue;
      const req = { key: m[2]!, owner: m[3]!, bypassCache: true };
      try {
        if (m[1] === "public") await this.plookup(session, req);
        else if (m[1] === me) await this.lookup(session, req);
        n++;
      } catch (err) {
        this.log.debug({ key, err: (err as Error).message }, "cache refresh failed");
      }
    }
    return n;
  }

  async scan(atSign: string, regex?: string): Promise<string> {
    const c = await this.outbound.polClient(atSign);
    return c.execute(regex ? `scan ${regex}` : "scan");
  }

  /** Inbound: the peer that sent `from:@bob` proves it holds bob's signing key (§5.3 step 6). */
  async verifyPol(s: Session): Promise<void> {
    const ch = s.challenge;
    if (!ch) throw new AuthFailedError("Pol Authentication Failed");
    this.limit(s, ch.atSign);
    const c = await this.outbound.anonymous(ch.atSign);
    try {
      const signature = await c.execute(`lookup:${s.id}${ch.atSign}`);
      const cached = this.peerKeys.get(ch.atSign);
      if (cached !== undefined && rsaVerify(cached, ch.nonce, signature)) return;
      // Not cached, or the peer may have rotated its key: fetch it (once) and try again.
      const publicKey = await c.execute(`lookup:signing_publickey${ch.atSign}`);
      this.peerKeyFetches++;
      this.peerKeys.set(ch.atSign, publicKey);
      if (publicKey === cached || !rsaVerify(publicKey, ch.nonce, signature))
        throw new AuthFailedError("Pol Authentication Failed");
    } finally {
      c.destroy();
    }
  }

  /**
   * `from:@bob` by a peer (§5.3 step 3): its client certificate must verify against our CAs
   * and one of its subject alternative names must match bob's host from the directory
   * (exactly, or by a wildcard in the first label; the subject's CN is not considered).
   */
  async checkPeerCertificate(s: Session, atSign: string): Promise<void> {
    this.limit(s, atSign);
    if (!this.opts.clientCertificateRequired) return;
    const cert = s.peerCertificate;
    if (!cert) throw new AuthFailedError("Certificate Verification Failed");
    if (!peerChainTrusted(cert, this.opts.trustedCa?.())) {
      this.log.warn(
        { peer: atSign, remote: s.remote, err: cert.authorizationError },
        "peer client certificate does not verify",
      );
      throw new AuthFailedError("Certificate Verification Failed");
    }
    const { host } = await this.resolver.resolve(normalizeAtSign(atSign));
    if (!certificateNames(cert.subjectaltname, host)) {
      this.log.warn({ peer: atSign, host }, "peer client certificate is for another host");
      throw new AuthFailedError("Certificate Verification Failed");
    }
  }

  /** Runs a remote `lookup:all`; AT0015 removes our cached copy and surfaces as AT0015 for `shown`. */
  private async remoteAll(
    run: () => Promise<string>,
    cacheKey: string,
    shown: string,
  ): Promise<RemoteAll | null> {
    let text: string;
    try {
      text = await run();
    } catch (err) {
      if (err instanceof AtError && err.code === "AT0015") {
        this.keys.delete(cacheKey);
        throw new KeyNotFoundError(shown);
      }
      throw err;
    }
    if (text === "null") return null;
    try {
      return JSON.parse(text) as RemoteAll;
    } catch {
      this.log.warn({ cacheKey }, "peer answered lookup:all with something that is not JSON");
      throw new KeyNotFoundError(shown);
    }
  }

  private format(remote: RemoteAll, op: RemoteLookup["op"], shown: string): string {
    if (op === "meta") return JSON.stringify(remote.metaData ?? null);
    if (op === "all")
      return JSON.stringify({ key: shown, data: remote.data, metaData: remote.metaData ?? {} });
    return remote.data === null ? "null" : remote.data;
  }
}
