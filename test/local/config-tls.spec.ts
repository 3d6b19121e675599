import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { expect } from "chai";
import { ensureLocalTls, localConfigFromEnv } from "@atplatform/local";

describe("local platform configuration and first-run certificates", function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-localcfg-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads ports, host, data dir and API key from the environment, with defaults", () => {
    const d = localConfigFromEnv({ HOME: "/home/x" });
    expect(d.rootPort).to.equal(6464);
    expect(d.registrarPort).to.equal(6480);
    expect(d.host).to.equal("127.0.0.1");
    expect(d.apiKey).to.equal(undefined);
    const c = localConfigFromEnv({
      ATPLATFORM_HOME: dir,
      ROOT_PORT: "7000",
      REGISTRAR_PORT: "7001",
      ATPLATFORM_HOST: "atsign.test",
      ATPLATFORM_ATSERVER_PORTS: "30000-30010",
      REGISTRAR_API_KEY: "k".repeat(20),
    });
    expect(c).to.include({ home: dir, rootPort: 7000, registrarPort: 7001, host: "atsign.test" });
    expect(c.atserverPorts).to.deep.equal({ min: 30000, max: 30010 });
  });

  it("rejects bad values with a message naming the variable", () => {
    expect(() => localConfigFromEnv({ ROOT_PORT: "70000" })).to.throw(/ROOT_PORT/);
    expect(() => localConfigFromEnv({ REGISTRAR_PORT: "abc" })).to.throw(/REGISTRAR_PORT/);
    expect(() => localConfigFromEnv({ ATPLATFORM_HOST: "a b" })).to.throw(/ATPLATFORM_HOST/);
    expect(() => localConfigFromEnv({ ATPLATFORM_ATSERVER_PORTS: "9-1" })).to.throw(/PORTS/);
    expect(() => localConfigFromEnv({ REGISTRAR_API_KEY: "short" })).to.throw(/16/);
  });

  it("creates the CA once, and a certificate for 127.0.0.1, localhost and the host", async () => {
    const first = await ensureLocalTls(dir, "atsign.test");
    expect(first.created).to.equal(true);
    expect(first.caFile).to.equal(join(dir, "ca.pem"));
    expect(statSync(join(dir, "ca-key.pem")).mode & 0o777).to.equal(0o600);
    expect(statSync(first.keyFile).mode & 0o777).to.equal(0o600);
    const leaf = new X509Certificate(readFileSync(first.certFile));
    const ca = new X509Certificate(readFileSync(first.caFile));
    expect(leaf.verify(ca.publicKey)).to.equal(true);
    expect(leaf.checkIP("127.0.0.1")).to.equal("127.0.0.1");
    expect(leaf.checkHost("localhost")).to.equal("localhost");
    expect(leaf.checkHost("atsign.test")).to.equal("atsign.test");

    const again = await ensureLocalTls(dir, "atsign.test");
    expect(again.created).to.equal(false);
    expect(readFileSync(again.certFile, "utf8")).to.equal(readFileSync(first.certFile, "utf8"));

    // A new host name re-issues the leaf under the same CA.
    const moved = await ensureLocalTls(dir, "other.test");
    expect(moved.created).to.equal(true);
    expect(readFileSync(moved.caFile, "utf8")).to.equal(readFileSync(first.caFile, "utf8"));
    expect(new X509Certificate(readFileSync(moved.certFile)).checkHost("other.test")).to.equal(
      "other.test",
    );
  });
});
