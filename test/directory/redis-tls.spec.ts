// The Memorystore shape: Redis reached over TLS (server CA given with --redis-ca) and
// AUTH from ATDIRECTORY_REDIS_PASSWORD. redis-server is started here with TLS only.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryServer, RedisRecordWriter } from "@atplatform/directory";
import { freePort } from "../support/ports";
import { testTls } from "../support/test-ca";
import { greeted, sleep } from "./helpers";

describe("directory Redis store over TLS", () => {
  let proc: ChildProcess | undefined;
  let dir: string;

  after(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc!.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads with TLS + AUTH, and the writer invalidates over TLS too", async () => {
    const tls = await testTls();
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "atp-redis-tls-"));
    proc = spawn(
      "redis-server",
      [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--tls-cert-file",
        tls.files.cert,
        "--tls-key-file",
        tls.files.key,
        "--tls-ca-cert-file",
        tls.files.ca,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "tls-test-password",
        "--save",
        "",
        "--dir",
        dir,
      ],
      { stdio: "ignore" },
    );
    const url = `rediss://127.0.0.1:${port}`;
    const writer = new RedisRecordWriter({ url, password: "tls-test-password", ca: tls.ca });
    let server: DirectoryServer | undefined;
    try {
      for (let i = 0; ; i++) {
        try {
          await writer.set("alice", "alice.test:1");
          break;
        } catch (err) {
          if (i > 100) throw err;
          await sleep(50);
        }
      }
      server = await DirectoryServer.create({
        host: "127.0.0.1",
        port: 0,
        httpPort: -1,
        cert: tls.files.cert,
        key: tls.files.key,
        redis: url,
        redisCa: tls.files.ca,
        redisPassword: "tls-test-password",
        cacheTtlMs: 60_000,
        logLevel: "silent",
      });
      await server.start();
      expect(server.ready()).to.equal(true);
      const c = await greeted(server.port!);
      expect(await c.lookup("alice")).to.equal("alice.test:1\r\n@");
      await writer.set("alice", "alice.test:2");
      for (let i = 0; (await c.lookup("alice")) !== "alice.test:2\r\n@"; i++) {
        if (i > 100) throw new Error("not invalidated");
        await sleep(20);
      }
      c.close();
    } finally {
      await server?.stop();
      await writer.close();
    }
  });
});
