// Operations: the HTTP ops port, the connection cap over real TLS, probes that close
// before TLS, and certificate reload.
import { expect } from "chai";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { issueServerCertificate } from "@atplatform/protocol";
import { DirectoryServer, MemoryDirectoryStore } from "@atplatform/directory";
import { testCa, testTls } from "../support/test-ca";
import { greeted, sleep, startDirectory, type TestDirectory } from "./helpers";

describe("directory operations", () => {
  let dir: TestDirectory | undefined;
  afterEach(async () => {
    await dir?.stop();
    dir = undefined;
  });

  it("serves /healthz, /readyz and /metrics, and /readyz fails while draining", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { httpPort: 0 });
    const base = `http://127.0.0.1:${dir.httpPort}`;
    expect(await (await fetch(`${base}/healthz`)).text()).to.equal("ok\n");
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
    const c = await greeted(dir.port);
    await c.lookup("alice");
    await c.lookup("nobody");
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).to.match(/^text\/plain; version=0.0.4/);
    const text = await res.text();
    expect(text).to.include('atdirectory_lookups_total{result="found"} 1');
    expect(text).to.include('atdirectory_lookups_total{result="unknown"} 1');
    expect(text).to.include("atdirectory_open_connections 1");
    expect(text).to.match(/atdirectory_lookup_duration_seconds_count 2/);
    expect(text).to.include("# TYPE atdirectory_store_errors_total counter");
    // While draining, /readyz turns 503 before the ops port closes.
    const stopping = dir.server.stop();
    expect(dir.server.ready()).to.equal(false);
    c.close();
    await stopping;
  });

  it("with a shutdown delay, keeps serving new clients while /readyz fails", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { httpPort: 0, shutdownDelayMs: 1500 });
    const base = `http://127.0.0.1:${dir.httpPort}`;
    const stopping = dir.server.stop();
    expect((await fetch(`${base}/readyz`)).status).to.equal(503);
    const c = await greeted(dir.port);
    expect(await c.lookup("alice")).to.equal("a.test:1\r\n@");
    await c.waitForClose(5000); // closed by the drain after the delay
    await stopping;
  });

  it("stop() does not wait for clients stuck before their TLS handshake", async function () {
    this.timeout(5000); // far below the 20 s handshake timeout configured here
    dir = await startDirectory({ alice: "a.test:1" }, { handshakeTimeoutMs: 20_000 });
    const stuck = tcpConnect(dir.port, "127.0.0.1");
    stuck.on("error", () => undefined);
    await new Promise((r) => stuck.once("connect", r));
    const closed = new Promise((r) => stuck.once("close", r));
    await dir.stop();
    dir = undefined;
    await closed;
  });

  it("per-IP budget over real TLS: unknown answers across connections are limited", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { ipMissBudget: 2 });
    const a = await greeted(dir.port);
    expect(await a.lookup("x1")).to.equal("null\r\n@");
    const b = await greeted(dir.port);
    expect(await b.lookup("x2")).to.equal("null\r\n@");
    const c = await greeted(dir.port);
    expect(await c.lookup("alice")).to.equal("a.test:1\r\n@");
    c.send("x3\n");
    await c.waitForClose();
    expect(c.text).to.equal("@a.test:1\r\n@");
    a.close();
    b.close();
  });

  it("per-IP budget over real TLS: an exempt address (monitoring, registrar) is not limited", async () => {
    dir = await startDirectory(
      { alice: "a.test:1" },
      { ipMissBudget: 1, ipBudgetExempt: ["127.0.0.0/8", "::1"] },
    );
    for (let i = 0; i < 4; i++) {
      const probe = await greeted(dir.port);
      expect(await probe.lookup(`nobody${i}`)).to.equal("null\r\n@");
      probe.close();
    }
  });

  it("closes idle connections when --idle-timeout-ms is set (it is off by default)", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { idleTimeoutMs: 300 });
    const idle = await greeted(dir.port);
    await idle.waitForClose(3000);
    expect(idle.text).to.equal("@");
  });

  it("at the connection cap, closes the longest-idle connection first", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { maxConnections: 2 });
    const oldest = await greeted(dir.port);
    const active = await greeted(dir.port);
    await sleep(20);
    expect(await oldest.lookup("alice")).to.equal("a.test:1\r\n@"); // oldest is now recent
    const third = await greeted(dir.port);
    await active.waitForClose();
    expect(oldest.closed).to.equal(false);
    expect(await oldest.lookup("alice")).to.equal("a.test:1\r\n@");
    expect(await third.lookup("alice")).to.equal("a.test:1\r\n@");
    expect(dir.server.openConnections).to.equal(2);
    oldest.close();
    third.close();
  });

  it("logs probes that close before TLS at debug level, never as errors", async () => {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const tls = await testTls();
    const records = mkdtempSync(join(tmpdir(), "atp-dir-"));
    writeFileSync(join(records, "r"), "alice a.test:1\n");
    const server = await DirectoryServer.create(
      {
        host: "127.0.0.1",
        port: 0,
        httpPort: -1,
        cert: tls.files.cert,
        key: tls.files.key,
        records: join(records, "r"),
      },
      { logger: pino({ level: "debug" }, sink) },
    );
    const { port } = await server.start();
    try {
      // A kubelet-style TCP probe: connect, close.
      await new Promise<void>((resolve) => {
        const s = tcpConnect(port, "127.0.0.1", () => s.end());
        s.on("close", () => resolve());
      });
      // A plain-text HTTP request on the TLS port.
      await new Promise<void>((resolve) => {
        const s = tcpConnect(port, "127.0.0.1", () => s.write("GET / HTTP/1.0\r\n\r\n"));
        s.on("error", () => undefined);
        s.on("close", () => resolve());
      });
      await sleep(50);
    } finally {
      await server.stop();
      rmSync(records, { recursive: true, force: true });
    }
    expect(lines.filter((l) => l.level >= 40)).to.deep.equal([]);
    expect(lines.some((l) => l.level === 20 && l.msg === "TLS handshake failed")).to.equal(true);
  });

  it("serves an injected store (embedding) with PEM text instead of files", async () => {
    const tls = await testTls();
    const store = new MemoryDirectoryStore([["alice", "a.test:1"]]);
    const server = await DirectoryServer.create(
      {
        host: "127.0.0.1",
        port: 0,
        httpPort: -1,
        cert: tls.cert,
        key: tls.key,
        logLevel: "silent",
      },
      { store },
    );
    const { port } = await server.start();
    try {
      const c = await greeted(port);
      expect(await c.lookup("alice")).to.equal("a.test:1\r\n@");
      store.set("bob", "b.test:2");
      expect(await c.lookup("bob")).to.equal("b.test:2\r\n@");
      c.close();
    } finally {
      await server.stop();
    }
  });

  it("serves an ECDSA and an RSA certificate side by side (comma-separated files)", async () => {
    const ca = await testCa();
    const tls = await testTls();
    const rsa = await issueServerCertificate(ca, {
      names: ["localhost", "127.0.0.1"],
      keyType: "rsa-2048",
    });
    const certDir = mkdtempSync(join(tmpdir(), "atp-cert-"));
    writeFileSync(join(certDir, "rsa.crt"), rsa.cert);
    writeFileSync(join(certDir, "rsa.key"), rsa.key);
    try {
      dir = await startDirectory(
        { alice: "a.test:1" },
        {
          cert: `${tls.files.cert},${join(certDir, "rsa.crt")}`,
          key: `${tls.files.key}, ${join(certDir, "rsa.key")}`,
        },
      );
      const peer = (sigalgs?: string) =>
        new Promise<{ curve?: string; bits?: number; answer: string }>((resolve, reject) => {
          const s = tlsConnect(
            { host: "127.0.0.1", port: dir!.port, ca: tls.ca, servername: "localhost", sigalgs },
            () => {
              const c = s.getPeerCertificate() as { asn1Curve?: string; bits?: number };
              let answer = "";
              s.on("data", (d: Buffer) => {
                answer += d.toString();
                if (answer.endsWith("\r\n@")) {
                  s.destroy();
                  resolve({ curve: c.asn1Curve, bits: c.bits, answer });
                }
              });
              s.write("alice\n");
            },
          );
          s.on("error", reject);
        });
      const modern = await peer();
      expect(modern.curve).to.equal("prime256v1");
      expect(modern.answer).to.equal("@a.test:1\r\n@");
      const rsaOnly = await peer("rsa_pss_rsae_sha256:rsa_pkcs1_sha256");
      expect(rsaOnly.bits).to.equal(2048);
      expect(rsaOnly.answer).to.equal("@a.test:1\r\n@");
    } finally {
      await dir?.stop();
      dir = undefined;
      rmSync(certDir, { recursive: true, force: true });
    }
  });

  it("reloads the certificate when its files change", async () => {
    const ca = await testCa();
    const tls = await testTls();
    const certDir = mkdtempSync(join(tmpdir(), "atp-cert-"));
    const cert = join(certDir, "cert.pem");
    const key = join(certDir, "key.pem");
    copyFileSync(tls.files.cert, cert);
    copyFileSync(tls.files.key, key);
    try {
      dir = await startDirectory({ alice: "a.test:1" }, { cert, key, watchIntervalMs: 50 });
      const serial = () =>
        new Promise<string>((resolve, reject) => {
          const s = tlsConnect(
            { host: "127.0.0.1", port: dir!.port, ca: tls.ca, servername: "localhost" },
            () => {
              resolve(s.getPeerCertificate().serialNumber);
              s.destroy();
            },
          );
          s.on("error", reject);
        });
      const before = await serial();
      const old = await greeted(dir.port);
      const next = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] });
      // Key first then certificate, as a renewal tool would; a mismatched pair in
      // between is rejected and retried on the next change.
      writeFileSync(key, next.key);
      writeFileSync(cert, next.cert);
      let after = before;
      for (let i = 0; i < 100 && after === before; i++) {
        await sleep(30);
        after = await serial();
      }
      expect(after).to.not.equal(before);
      // Open connections are not dropped by the reload.
      expect(await old.lookup("alice")).to.equal("a.test:1\r\n@");
      old.close();
    } finally {
      await dir?.stop();
      dir = undefined;
      rmSync(certDir, { recursive: true, force: true });
    }
  });
});
