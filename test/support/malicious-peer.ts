// A scripted malicious atServer for hostile-peer tests: a real TLS listener (a certificate
// valid under the test CA) at the address the test atDirectory gives for its atSign, that
// speaks just enough of the protocol (greeting, from:, pol, unauthenticated lookup) for real
// atServers to dial it, plus helpers to dial them as that atSign. Every answer can be
// scripted, so attacks (relays, forged proofs, floods) are a few lines in a spec.
import { randomUUID } from "node:crypto";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { AtClient, generateRsaKeyPair, rsaSign, type Base64KeyPair } from "@atplatform/protocol";

export interface MaliciousPeerOptions {
  /** The atSign the directory lists at 127.0.0.1:`port`, e.g. `@mallory`. */
  atSign: string;
  port: number;
  /** Listener certificate and key; also the client certificate when dialling. */
  cert: string;
  key: string;
  /** CA that verifies the victims' certificates. */
  ca: string;
  /** Where the victims listen (the test platform's ports). */
  ports: Record<string, number>;
}

/** One inbound connection from a victim atServer. */
export interface InboundPeer {
  socket: TLSSocket;
  /** The atSign the victim claimed with `from:`, once it did. */
  from?: string;
  /** Every command line it sent, in order. */
  lines: string[];
  /** We answered its `pol` with success. */
  polled?: boolean;
}

/**
 * Answers one command line: the full response text to write (e.g. `data:x\n@`), or
 * undefined to fall back to the default behaviour.
 */
export type Script = (
  line: string,
  conn: InboundPeer,
) => string | undefined | Promise<string | undefined>;

export class MaliciousPeer {
  readonly atSign: string;
  /** Our own signing key pair: published as `signing_publickey@<us>`. */
  readonly signing: Base64KeyPair = generateRsaKeyPair();
  /** What an unauthenticated `lookup:<name>` answers (proofs, public keys). */
  readonly published = new Map<string, string>();
  /** Inbound connections from victims, oldest first. */
  readonly inbound: InboundPeer[] = [];
  /** Scripted answers, tried before the defaults (set per test). */
  script?: Script;
  private readonly server: Server;
  private readonly clients: AtClient[] = [];

  private constructor(private readonly opts: MaliciousPeerOptions) {
    this.atSign = opts.atSign;
    this.published.set(`signing_publickey${opts.atSign}`, this.signing.publicKey);
    this.server = createServer({ cert: opts.cert, key: opts.key, minVersion: "TLSv1.2" }, (s) =>
      this.serve(s),
    );
  }

  static async start(opts: MaliciousPeerOptions): Promise<MaliciousPeer> {
    const peer = new MaliciousPeer(opts);
    await new Promise<void>((resolve, reject) => {
      peer.server.once("error", reject);
      peer.server.listen(opts.port, "127.0.0.1", () => resolve());
    });
    return peer;
  }

  /** Resolves with the next inbound connection's `from:` claim (a victim dialled us). */
  async nextInbound(timeoutMs = 10_000): Promise<InboundPeer> {
    const seen = this.inbound.length;
    const deadline = Date.now() + timeoutMs;
    while (this.inbound.length <= seen || !this.inbound[seen]!.from) {
      if (Date.now() > deadline) throw new Error("no victim dialled the malicious peer");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.inbound[seen]!;
  }

  /** A TLS connection to `victim`'s atServer, presenting our certificate (or `cert`/`key`). */
  async dial(victim: string, tls: { cert?: string; key?: string } = {}): Promise<AtClient> {
    const port = this.opts.ports[victim];
    if (port === undefined) throw new Error(`no port for ${victim}`);
    const c = await AtClient.connect({
      host: "127.0.0.1",
      port,
      ca: this.opts.ca,
      cert: tls.cert ?? this.opts.cert,
      key: tls.key ?? this.opts.key,
      timeoutMs: 10_000,
    });
    this.clients.push(c);
    return c;
  }

  /**
   * An honest pol handshake with `victim` as ourselves: `from:`, sign the challenge, publish
   * the signature where the victim looks it up, `pol`. Resolves with the pol connection.
   */
  async polAs(victim: string): Promise<AtClient> {
    const c = await this.dial(victim);
    const proof = await c.execute(`from:${this.atSign}`);
    const m = /^proof:([^:]+):(.+)$/.exec(proof);
    if (!m) throw new Error(`unexpected from: answer ${proof}`);
    this.published.set(m[1]!, rsaSign(this.signing.privateKey, m[2]!.trim()));
    const reply = await c.send("pol");
    if (reply !== `${this.atSign}@`) throw new Error(`pol failed: ${reply}`);
    return c;
  }

  private serve(socket: TLSSocket): void {
    const conn: InboundPeer = { socket, lines: [] };
    this.inbound.push(conn);
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    socket.write("@");
    let buffer = "";
    let chain = Promise.resolve();
    socket.on("data", (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        conn.lines.push(line);
        chain = chain.then(async () => {
          const out = (await this.script?.(line, conn)) ?? this.answer(line, conn);
          if (!socket.destroyed) socket.write(out);
        });
      }
    });
  }

  /** The defaults: a legacy challenge for `from:`, success for `pol`, published lookups. */
  private answer(line: string, conn: InboundPeer): string {
    const prompt = conn.polled ? `${conn.from}@` : "@";
    let m = /^from:(@?[^:]+)/.exec(line);
    if (m) {
      conn.from = m[1]!.startsWith("@") ? m[1]! : `@${m[1]!}`;
      return `data:proof:_${randomUUID()}${conn.from}:${randomUUID()}\n@`;
    }
    if (line === "pol" && conn.from) {
      conn.polled = true;
      return `${conn.from}@`;
    }
    m = /^lookup:(?:all:)?(.+)$/.exec(line);
    if (m) {
      const v = this.published.get(m[1]!);
      if (v !== undefined) return `data:${v}\n${prompt}`;
      return `error:AT0015-KeyNotFoundException: ${m[1]} does not exist\n${prompt}`;
    }
    if (line === "@exit") {
      conn.socket.end();
      return "";
    }
    return `data:null\n${prompt}`;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    for (const c of this.inbound) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
