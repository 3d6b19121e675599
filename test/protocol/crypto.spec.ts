import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  aesDecrypt,
  aesEncrypt,
  cramDigest,
  ecPublicKeyHex,
  errorFromLine,
  errorLine,
  escapeControls,
  EnrollmentStateError,
  generateAesKey,
  generateRsaKeyPair,
  KeyNotFoundError,
  readAtKeys,
  signPkam,
  verifyPkam,
  writeAtKeys,
  applyMetadata,
  metadataJson,
} from "@atplatform/protocol";

describe("protocol: crypto, .atKeys, errors, metadata", () => {
  const rsa = generateRsaKeyPair();

  it("CRAM digest is lower-case hex SHA-512 of secret + challenge", () => {
    const d = cramDigest("secret", "_abc@alice:uuid");
    expect(d).to.match(/^[0-9a-f]{128}$/);
    expect(d).to.not.equal(cramDigest("secret", "_abc@alice:uuid2"));
  });

  it("PKAM: RSA SHA-256 and SHA-512, ECDSA P-256 as hex-in-base64; wrong key fails", () => {
    const ch = "_s@alice:c";
    expect(
      verifyPkam({
        publicKey: rsa.publicKey,
        signature: signPkam(rsa.privateKey, ch),
        challenge: ch,
      }),
    ).to.equal(true);
    const s512 = signPkam(rsa.privateKey, ch, { hashingAlgo: "sha512" });
    expect(
      verifyPkam({
        publicKey: rsa.publicKey,
        signature: s512,
        challenge: ch,
        hashingAlgo: "sha512",
      }),
    ).to.equal(true);
    expect(verifyPkam({ publicKey: rsa.publicKey, signature: s512, challenge: ch })).to.equal(
      false,
    );
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const sig = signPkam(ec.privateKey, ch, { signingAlgo: "ecc_secp256r1" });
    const hex = ecPublicKeyHex(ec.publicKey);
    expect(
      verifyPkam({ publicKey: hex, signature: sig, challenge: ch, signingAlgo: "ecc_secp256r1" }),
    ).to.equal(true);
    expect(
      verifyPkam({ publicKey: hex, signature: sig, challenge: "x", signingAlgo: "ecc_secp256r1" }),
    ).to.equal(false);
    expect(
      verifyPkam({
        publicKey: generateRsaKeyPair().publicKey,
        signature: signPkam(rsa.privateKey, ch),
        challenge: ch,
      }),
    ).to.equal(false);
    expect(verifyPkam({ publicKey: "junk", signature: "@@", challenge: ch })).to.equal(false);
  });

  it("AES-CTR with PKCS#7 padding round-trips; ciphertext is a multiple of 16 bytes", () => {
    const key = generateAesKey();
    const c = aesEncrypt("héllo 🦄", key);
    expect(Buffer.from(c, "base64").length % 16).to.equal(0);
    expect(aesDecrypt(c, key)).to.equal("héllo 🦄");
  });

  it(".atKeys: 4-space JSON with encrypted DER fields; read back; extra fields kept", () => {
    const dir = mkdtempSync(join(tmpdir(), "atkeys-"));
    try {
      const file = join(dir, "@alice_key.atKeys");
      const enc = generateRsaKeyPair();
      const keys = {
        selfEncryptionKey: generateAesKey(),
        pkamPublicKey: rsa.publicKey,
        pkamPrivateKey: rsa.privateKey,
        encryptPublicKey: enc.publicKey,
        encryptPrivateKey: enc.privateKey,
        extra: { enrollmentId: "e1" },
      };
      writeAtKeys(file, keys);
      const text = readFileSync(file, "utf8");
      const json = JSON.parse(text);
      expect(text).to.include('\n    "aesPkamPublicKey": "');
      expect(Object.keys(json)).to.include.members([
        "aesPkamPrivateKey",
        "aesEncryptPublicKey",
        "aesEncryptPrivateKey",
        "selfEncryptionKey",
      ]);
      expect(aesDecrypt(json.aesPkamPublicKey, keys.selfEncryptionKey)).to.equal(rsa.publicKey);
      expect(readAtKeys(file)).to.deep.equal(keys);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("errors map to the wire and back in one place", () => {
    const e = new KeyNotFoundError("x@alice");
    expect(errorLine(e, { authenticated: true })).to.equal(
      "error:AT0015-key not found : x@alice does not exist in keystore",
    );
    expect(errorLine(e, { authenticated: false })).to.equal(
      "error:AT0015-Exception: x@alice does not exist in keystore",
    );
    expect(errorLine(e, { authenticated: true, json: true })).to.equal(
      'error:{"errorCode":"AT0015","errorDescription":"key not found : x@alice does not exist in keystore"}',
    );
    expect(errorFromLine("error:AT0015-key not found : x")).to.be.instanceOf(KeyNotFoundError);
    expect(errorFromLine('error:{"errorCode":"AT0015","errorDescription":"d"}').code).to.equal(
      "AT0015",
    );
  });

  it("error lines escape the control characters a message echoes, in all three wire forms", () => {
    const evil = "a\rdata:success\u0000\u001b[2J\u007f\u0085\u2028b@alice";
    const escaped = "a\\u000ddata:success\\u0000\\u001b[2J\\u007f\\u0085\\u2028b@alice";
    const e = new KeyNotFoundError(evil);
    expect(errorLine(e, { authenticated: true })).to.equal(
      `error:AT0015-key not found : ${escaped} does not exist in keystore`,
    );
    expect(errorLine(e, { authenticated: false })).to.equal(
      `error:AT0015-Exception: ${escaped} does not exist in keystore`,
    );
    const json = errorLine(e, { authenticated: true, json: true });
    expect(JSON.parse(json.slice("error:".length)).errorDescription).to.include(escaped);
    const colon = errorLine(new EnrollmentStateError("AT0028", evil), { authenticated: true });
    expect(colon).to.equal(`error:AT0028:${escaped}`);
    // Printable text, tabs aside, is left alone (emoji, accents, quotes).
    expect(escapeControls('café 🛠 "x"')).to.equal('café 🛠 "x"');
  });

  it("metadata: version, timestamps, ttl/ttb/ttr, reset of flags, JSON order without nulls", () => {
    const m0 = applyMetadata(
      undefined,
      { ttl: 3000, ttb: 1000, isEncrypted: true },
      { now: 1000, by: "@alice", mode: "update" },
    );
    expect(m0).to.include({
      version: 0,
      createdAt: 1000,
      availableAt: 2000,
      expiresAt: 5000,
      isEncrypted: true,
    });
    const m1 = applyMetadata(m0, { ttr: 10 }, { now: 2000, by: "@alice", mode: "update" });
    expect(m1).to.include({
      version: 1,
      createdAt: 1000,
      updatedAt: 2000,
      ttl: 3000,
      ttr: 10,
      ccd: false,
      isEncrypted: false,
    });
    const json = metadataJson(m1);
    expect(Object.keys(json)).to.deep.equal([
      "createdBy",
      "updatedBy",
      "createdAt",
      "updatedAt",
      "availableAt",
      "expiresAt",
      "refreshAt",
      "status",
      "version",
      "ttl",
      "ttb",
      "ttr",
      "ccd",
      "isBinary",
      "isEncrypted",
    ]);
    expect(json.createdAt).to.equal("1970-01-01 00:00:01.000Z");
  });
});
