// Issue 12 item 6, the registrar's half: its Engine API client certificate is re-read when
// the mounted files change, so a rotated certificate is used by the next connection with no
// restart. Against a real mutual-TLS HTTPS server that records each client's certificate;
// the swarm tier's real-engine suite does the same through a manager's stunnel endpoint.
import "../quiet";
import { expect } from "chai";
import { createServer, type Server } from "node:https";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueServerCertificate, type Pem } from "@atplatform/protocol";
import { EngineClient } from "../../../services/registrar/src/orchestrator/swarm/engine-client";
import { EngineUnreachableError } from "../../../services/registrar/src/orchestrator/swarm/errors";
import type { SwarmConfig } from "../../../services/registrar/src/orchestrator/swarm";
import { testCa } from "../../support/test-ca";

const HOUR_DAYS = 1 / 24;

describe("registrar: Engine API client certificate rotation without a restart", () => {
  let dir: string;
  let server: Server;
  let port: number;
  const seen: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "atp-engine-tls-"));
    const ca = await testCa();
    const serverPem = await issueServerCertificate(ca, { names: ["127.0.0.1"] });
    server = createServer(
      { ...serverPem, ca: ca.cert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push(peer.serialNumber);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ Version: "test" }));
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the files the way a Kubernetes Secret volume does: a new directory, one rename. */
  let generation = 0;
  function mount(caPem: string, leaf: Pem): { ca: string; cert: string; key: string } {
    const gen = join(dir, `..gen-${++generation}`);
    mkdirSync(gen);
    writeFileSync(join(gen, "ca.pem"), caPem);
    writeFileSync(join(gen, "cert.pem"), leaf.cert);
    writeFileSync(join(gen, "key.pem"), leaf.key, { mode: 0o600 });
    symlinkSync(gen, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    for (const f of ["ca.pem", "cert.pem", "key.pem"])
      if (generation === 1) symlinkSync(join("..data", f), join(dir, f));
    return { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
  }

  const serial = (pem: string) => new X509Certificate(pem).serialNumber;

  it("an expired client certificate fails; once its files are replaced the same client's next connection presents the new one", async () => {
    const ca = await testCa();
    // Expired half an hour ago (pki.ts back-dates notBefore by an hour).
    const expired = await issueServerCertificate(ca, {
      names: ["registrar.test"],
      validDays: HOUR_DAYS / 2,
    });
    const files = mount(ca.cert, expired);
    const swarm: SwarmConfig = {
      name: "blue",
      engine: { host: "127.0.0.1", port, ca: ca.cert, ...expired, files },
      publicHost: "blue.test",
      minPort: 30000,
      maxPort: 30099,
      image: "atserver",
      storageRoot: "/srv/atplatform/atservers",
    };
    const client = new EngineClient(swarm, 5000, "v1.43");
    const failed = await client.call({ method: "GET", path: "/version" }).catch((e: unknown) => e);
    expect(failed).to.be.instanceOf(EngineUnreachableError);
    expect(seen).to.deep.equal([]);

    // Valid for one minute: short-lived, as the rotation must reach the client before expiry.
    const fresh = await issueServerCertificate(ca, {
      names: ["registrar.test"],
      validDays: HOUR_DAYS + 1 / (24 * 60),
    });
    mount(ca.cert, fresh);
    expect(await client.call({ method: "GET", path: "/version" })).to.deep.equal({
      Version: "test",
    });
    const second = await issueServerCertificate(ca, { names: ["registrar.test"] });
    mount(ca.cert, second);
    await client.call({ method: "GET", path: "/version" });
    expect(seen.map((s) => s.toUpperCase())).to.deep.equal(
      [fresh.cert, second.cert].map((c) => serial(c).toUpperCase()),
    );
  });

  it("a half-written set (a key that is not PEM yet) keeps the previous credentials", async () => {
    const ca = await testCa();
    const good = await issueServerCertificate(ca, { names: ["registrar.test"] });
    const files = mount(ca.cert, good);
    const swarm: SwarmConfig = {
      name: "blue",
      engine: { host: "127.0.0.1", port, ca: ca.cert, ...good, files },
      publicHost: "blue.test",
      minPort: 30000,
      maxPort: 30099,
      image: "atserver",
      storageRoot: "/srv/atplatform/atservers",
    };
    const client = new EngineClient(swarm, 5000, "v1.43");
    mount(ca.cert, { cert: good.cert, key: "-----BEGIN PRIVATE KEY-----\nMIG" });
    seen.length = 0;
    await client.call({ method: "GET", path: "/version" });
    expect(seen).to.have.length(1);
  });
});
