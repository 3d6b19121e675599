// atplatform_certificate_expiry_timestamp_seconds{cert="root",target="self"}: the notAfter of
// the certificate the directory serves, scraped over real HTTP, with short-lived
// certificates from a CA this test makes, compared with what a TLS client is shown; it
// follows a certificate rotation on disk.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { expect } from "chai";
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
} from "@atplatform/protocol";
import { earliestNotAfter } from "../../services/directory/src/cert-expiry";
import { sleep, startDirectory, type TestDirectory } from "./helpers";

const SERIES = 'atplatform_certificate_expiry_timestamp_seconds{cert="root",target="self"}';

async function expiryMetric(httpPort: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  expect(res.status).to.equal(200);
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${SERIES} `));
  return line === undefined ? undefined : Number(line.slice(SERIES.length + 1));
}

/** notAfter (epoch seconds) of the certificate a TLS client sees on `port`. */
function servedNotAfter(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ca }, () => {
      resolve(Math.floor(Date.parse(s.getPeerCertificate().valid_to) / 1000));
      s.destroy();
    });
    s.once("error", reject);
  });
}

describe("directory certificate expiry metric", function () {
  this.timeout(30_000);
  let ca: CertificateAuthority;
  let dir: string;
  let d: TestDirectory | undefined;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: "expiry test CA", validDays: 10 });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-expiry-"));
  });
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function pair(name: string, validDays: number, keyType?: "rsa-2048") {
    const leaf = await issueServerCertificate(ca, { names: ["127.0.0.1"], validDays, keyType });
    const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(files.cert, leaf.cert + ca.cert);
    writeFileSync(files.key, leaf.key, { mode: 0o600 });
    return files;
  }

  it("is the served certificate's notAfter, and follows a rotation on disk (not a broken pair)", async () => {
    const files = await pair("a", 2);
    d = await startDirectory({}, { cert: files.cert, key: files.key, httpPort: 0 });
    const first = await expiryMetric(d.httpPort!);
    const served = await servedNotAfter(d.port, ca.cert);
    expect(first).to.equal(served);
    // Two days minus the hour pki.ts back-dates notBefore by.
    expect(first! - Date.now() / 1000).to.be.within(2 * 86400 - 3700, 2 * 86400 - 3500);

    // Rotation: a 5-day certificate written over the files; the watcher reloads it.
    const next = await issueServerCertificate(ca, { names: ["127.0.0.1"], validDays: 5 });
    writeFileSync(files.key, next.key);
    writeFileSync(files.cert, next.cert + ca.cert);
    const end = Date.now() + 10_000;
    while ((await servedNotAfter(d.port, ca.cert)) === served) {
      if (Date.now() > end) throw new Error("the certificate was not reloaded");
      await sleep(100);
    }
    const rotated = await servedNotAfter(d.port, ca.cert);
    expect(await expiryMetric(d.httpPort!)).to.equal(rotated);
    expect(rotated - first!).to.be.within(3 * 86400 - 60, 3 * 86400 + 60);

    // A certificate whose key does not match is refused: the metric keeps the served one.
    const stray = await issueServerCertificate(ca, { names: ["127.0.0.1"], validDays: 9 });
    writeFileSync(files.cert, stray.cert);
    expect(d.server.reload).to.be.a("function");
    await d.server.reload();
    expect(await expiryMetric(d.httpPort!)).to.equal(rotated);
    expect(await servedNotAfter(d.port, ca.cert)).to.equal(rotated);
  });

  it("with two pairs (ECDSA and RSA) reports the one that expires first", async () => {
    const ecdsa = await pair("ec", 4);
    const rsa = await pair("rsa", 3, "rsa-2048");
    d = await startDirectory(
      {},
      { cert: `${ecdsa.cert},${rsa.cert}`, key: `${ecdsa.key},${rsa.key}`, httpPort: 0 },
    );
    const reported = await expiryMetric(d.httpPort!);
    expect(reported! - Date.now() / 1000).to.be.within(3 * 86400 - 3700, 3 * 86400 - 3500);
    // Whatever the order of the pairs.
    const chains = [readFileSync(ecdsa.cert, "utf8"), readFileSync(rsa.cert, "utf8")];
    expect(earliestNotAfter(chains)).to.equal(reported);
    expect(earliestNotAfter([...chains].reverse())).to.equal(reported);
    expect(earliestNotAfter(["not a certificate"])).to.equal(undefined);
  });
});
