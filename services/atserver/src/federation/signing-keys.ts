// This atServer's RSA signing key pair (pol proofs, notify:all): `@alice:signing_privatekey@alice`
// and `public:signing_publickey@alice`, which peers fetch to verify our pol signatures.
// Created at first start, and checked again at every start and before every signature: a
// missing or altered public key is rewritten from the private key, and a missing private key
// makes a new pair, loudly. Without this one bad write (or expiry) of the public key would
// make every later pol of ours fail for good.
import { createPublicKey, generateKeyPair } from "node:crypto";
import { privateKeyFrom } from "@atplatform/protocol/src/core";
import type { KeyService } from "../data/key-service";
import type { Logger } from "../logger";

export const SIGNING_FLAG = "privatekey:signing_keypair_generated";

export class SigningKeys {
  private pending?: Promise<string>;
  /** The public key last derived, and from which private key (parsing one costs ~1.5 ms). */
  private derived?: { priv: string; pub: string };

  constructor(
    private readonly keys: KeyService,
    private readonly atSign: string,
    private readonly log: Logger,
    private readonly isOpen: () => boolean,
  ) {}

  get publicName(): string {
    return `public:signing_publickey${this.atSign}`;
  }

  get privateName(): string {
    return `${this.atSign}:signing_privatekey${this.atSign}`;
  }

  /** The private key (base64 PKCS#8), after making sure both halves are in place. */
  ensure(): Promise<string> {
    this.pending ??= this.check().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async check(): Promise<string> {
    const priv = this.keys.find(this.privateName)?.value;
    if (priv) {
      this.repairPublic(priv);
      return priv;
    }
    if (this.keys.find(SIGNING_FLAG)) {
      this.log.error(
        { key: this.privateName },
        "the signing private key is missing: creating a new signing key pair",
      );
    }
    return this.create();
  }

  /** Rewrites the public key when it is missing or does not belong to the private key. */
  private repairPublic(priv: string): void {
    if (this.derived?.priv !== priv) {
      const pub = createPublicKey(privateKeyFrom(priv))
        .export({ format: "der", type: "spki" })
        .toString("base64");
      this.derived = { priv, pub };
    }
    const expected = this.derived.pub;
    const current = this.keys.find(this.publicName);
    if (current?.value === expected && current.metadata.expiresAt === undefined) return;
    this.log.error(
      { key: this.publicName, found: current ? "altered" : "missing" },
      "the signing public key was missing or altered: restored from the private key",
    );
    // Deleted first so no expiry or other metadata of the bad record survives.
    this.keys.delete(this.publicName);
    this.keys.putInternal(this.publicName, expected);
  }

  private async create(): Promise<string> {
    const pair = await new Promise<{ publicKey: Buffer; privateKey: Buffer }>((resolve, reject) =>
      generateKeyPair(
        "rsa",
        {
          modulusLength: 2048,
          publicExponent: 65537,
          publicKeyEncoding: { format: "der", type: "spki" },
          privateKeyEncoding: { format: "der", type: "pkcs8" },
        },
        (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey })),
      ),
    );
    const priv = pair.privateKey.toString("base64");
    if (!this.isOpen()) return priv;
    this.keys.delete(this.publicName);
    this.keys.putInternal(this.publicName, pair.publicKey.toString("base64"));
    this.keys.putInternal(this.privateName, priv);
    this.keys.putInternal(SIGNING_FLAG, "true");
    return priv;
  }
}
