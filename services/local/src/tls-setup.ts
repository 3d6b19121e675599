// First run: a local CA ($ATPLATFORM_HOME/ca.pem) and one server certificate for every
// local service, re-issued when the configured host name changes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
} from "@atplatform/protocol";

export interface LocalTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  created: boolean;
}

export async function ensureLocalTls(home: string, host: string): Promise<LocalTls> {
  const caFile = join(home, "ca.pem");
  const caKeyFile = join(home, "ca-key.pem");
  const dir = join(home, "tls");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const namesFile = join(dir, "names.json");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let created = false;
  let ca: CertificateAuthority;
  if (existsSync(caFile) && existsSync(caKeyFile)) {
    ca = {
      cert: readFileSync(caFile, "utf8"),
      key: readFileSync(caKeyFile, "utf8"),
      keyType: "rsa-2048",
    };
  } else {
    // RSA keeps every client happy (Part A item 5: Debian OpenSSL, at_python, at_c).
    ca = await createCertificateAuthority({
      commonName: "atplatform local CA",
      keyType: "rsa-2048",
    });
    writeFileSync(caKeyFile, ca.key, { mode: 0o600 });
    writeFileSync(caFile, ca.cert, { mode: 0o644 });
    created = true;
  }
  const names = [...new Set(["127.0.0.1", "localhost", host])];
  const issuedFor = existsSync(namesFile)
    ? (JSON.parse(readFileSync(namesFile, "utf8")) as string[])
    : [];
  if (
    created ||
    !existsSync(certFile) ||
    !existsSync(keyFile) ||
    issuedFor.join(",") !== names.join(",")
  ) {
    const leaf = await issueServerCertificate(ca, { names, keyType: "rsa-2048" });
    writeFileSync(keyFile, leaf.key, { mode: 0o600 });
    writeFileSync(certFile, leaf.cert, { mode: 0o644 });
    writeFileSync(namesFile, JSON.stringify(names));
    created = true;
  }
  return { caFile, certFile, keyFile, ca: ca.cert, created };
}
