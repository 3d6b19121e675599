// The tests' own certificate authority: one per test process, created on first use,
// with leaf certificates for the loopback names every test server listens on.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
  type KeyType,
  type Pem,
} from "@atplatform/protocol";

export interface TestTls extends Pem {
  ca: string;
  /** Files on disk, for servers started as child processes. */
  files: { ca: string; cert: string; key: string };
}

let authority: Promise<CertificateAuthority> | undefined;
const issued = new Map<string, Promise<TestTls>>();
const dirs: string[] = [];

// The key files live as long as the test process, and no longer.
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export function testCa(): Promise<CertificateAuthority> {
  authority ??= createCertificateAuthority({ commonName: "atplatform test CA" });
  return authority;
}

/** A server certificate for localhost, 127.0.0.1 and ::1 (plus `extraNames`), cached. */
export function testTls(
  extraNames: string[] = [],
  keyType: KeyType = "ecdsa-p256",
): Promise<TestTls> {
  const names = ["localhost", "127.0.0.1", "::1", ...extraNames];
  const cacheKey = `${keyType}|${names.join(",")}`;
  let tls = issued.get(cacheKey);
  if (!tls) {
    tls = (async () => {
      const ca = await testCa();
      const leaf = await issueServerCertificate(ca, { names, keyType });
      const dir = mkdtempSync(join(tmpdir(), "atp-tls-"));
      dirs.push(dir);
      const files = {
        ca: join(dir, "ca.pem"),
        cert: join(dir, "cert.pem"),
        key: join(dir, "key.pem"),
      };
      writeFileSync(files.ca, ca.cert);
      writeFileSync(files.cert, leaf.cert);
      writeFileSync(files.key, leaf.key, { mode: 0o600 });
      return { ca: ca.cert, cert: leaf.cert, key: leaf.key, files };
    })();
    issued.set(cacheKey, tls);
  }
  return tls;
}
