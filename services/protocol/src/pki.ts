// A small private certificate authority: used by the tests (a CA they generate)
// and by the local platform (its CA at $ATPLATFORM_HOME/ca.pem). Certificates are
// RFC 5280-clean: positive 16-byte serials, CA constraints and key usages marked
// critical, key identifiers, and SANs for every name a client will dial.
import "reflect-metadata";
import { isIP } from "node:net";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 is typed against the DOM's WebCrypto; Node's is the same API.
x509.cryptoProvider.set(webcrypto as any);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type KeyType = "ecdsa-p256" | "rsa-2048";

export interface Pem {
  cert: string;
  key: string;
}

export interface CertificateAuthority extends Pem {
  keyType: KeyType;
}

export interface ServerCertOptions {
  /** DNS names and IP addresses (v4 or v6); each becomes a SAN of the right type. */
  names: string[];
  keyType?: KeyType;
  validDays?: number;
  /** Add the clientAuth usage too (atServer-to-atServer `from`/`pol`). Default true. */
  clientAuth?: boolean;
  commonName?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function algorithm(keyType: KeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return keyType === "rsa-2048"
    ? {
        name: "RSASSA-PKCS1-v1_5",
        hash: "SHA-256",
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: 2048,
      }
    : { name: "ECDSA", namedCurve: "P-256" };
}

function signingAlgorithm(keyType: KeyType): any {
  return keyType === "rsa-2048"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", hash: "SHA-256" };
}

/** A positive serial of 16 random bytes (RFC 5280 4.1.2.2: positive, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
}

async function generateKeys(keyType: KeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm(keyType), true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64.replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
}

async function importPrivateKey(pem: string, keyType: KeyType): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const alg =
    keyType === "rsa-2048"
      ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
      : { name: "ECDSA", namedCurve: "P-256" };
  return (await webcrypto.subtle.importKey("pkcs8", Buffer.from(b64, "base64"), alg, true, [
    "sign",
  ])) as CryptoKey;
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Back-date by an hour so that small clock skew between machines does not matter.
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

/** Creates a self-signed root CA. */
export async function createCertificateAuthority(
  opts: { commonName?: string; keyType?: KeyType; validDays?: number } = {},
): Promise<CertificateAuthority> {
  const keyType = opts.keyType ?? "ecdsa-p256";
  const keys = await generateKeys(keyType);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${opts.commonName ?? "atplatform local CA"}, O=atplatform`,
    ...validity(opts.validDays ?? 3650),
    signingAlgorithm: signingAlgorithm(keyType),
    keys: keys as any,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as any),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await privateKeyPem(keys.privateKey), keyType };
}

/** Issues a leaf certificate for a TLS server (and, by default, client) signed by `ca`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  opts: ServerCertOptions,
): Promise<Pem> {
  if (opts.names.length === 0) throw new Error("a server certificate needs at least one name");
  const keyType = opts.keyType ?? "ecdsa-p256";
  const keys = await generateKeys(keyType);
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importPrivateKey(ca.key, ca.keyType);
  const san = opts.names.map((n) =>
    isIP(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n },
  );
  const usages = [x509.ExtendedKeyUsage.serverAuth];
  if (opts.clientAuth !== false) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const keyUsage =
    keyType === "rsa-2048"
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${opts.commonName ?? opts.names[0]}`,
    issuer: caCert.subject,
    ...validity(opts.validDays ?? 825),
    signingAlgorithm: signingAlgorithm(ca.keyType),
    publicKey: keys.publicKey as any,
    signingKey: caKey as any,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsage, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.SubjectAlternativeNameExtension(san, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as any),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await privateKeyPem(keys.privateKey) };
}
