import { expect } from "chai";
import { connect, createServer } from "node:tls";
import { X509Certificate } from "node:crypto";
import { freePort } from "./ports";
import { testTls } from "./test-ca";
import { TestRedis } from "./redis-server";
import { MissingPrerequisiteError, requireDockerPrerequisites } from "./docker/exec";
import { storageDriver } from "./docker/dockerd";

describe("test support", () => {
  it("freePort returns a bindable port", async () => {
    const port = await freePort();
    expect(port).to.be.within(1024, 65535);
  });

  it("the test CA issues certificates that verify for DNS and IP names", async () => {
    const tls = await testTls();
    const leaf = new X509Certificate(tls.cert);
    expect(leaf.checkIssued(new X509Certificate(tls.ca))).to.equal(true);
    expect(leaf.subjectAltName).to.include("DNS:localhost").and.include("IP Address:127.0.0.1");
    const port = await freePort();
    const server = createServer({ cert: tls.cert, key: tls.key }, (s) => s.end("@"));
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      for (const servername of ["localhost", undefined]) {
        const got = await new Promise<string>((resolve, reject) => {
          const sock = connect({ host: "127.0.0.1", port, ca: tls.ca, servername }, () => {
            sock.once("data", (d) => resolve(d.toString()));
          });
          sock.on("error", reject);
        });
        expect(got).to.equal("@");
      }
    } finally {
      server.close();
    }
  });

  it("starts a real redis-server with a password and a replica, and restarts it", async () => {
    const primary = await TestRedis.start({ password: "pw" });
    const replica = await TestRedis.start({ password: "pw", replicaOf: primary });
    try {
      await replica.waitForReplication();
      await primary.command("SET", "alice", "host:1");
      let value: unknown = null;
      for (let i = 0; i < 100 && value === null; i++) {
        value = await replica.command("GET", "alice");
        if (value === null) await new Promise((r) => setTimeout(r, 20));
      }
      expect(value).to.equal("host:1");
      await primary.kill();
      const again = await primary.restart();
      expect(await again.command("PING")).to.equal("PONG");
      await again.stop();
    } finally {
      await replica.stop();
      await primary.stop().catch(() => undefined);
    }
  });
});

describe("test support: the real Docker Engine's prerequisites", () => {
  it("a missing prerequisite fails naming it and its package, never skips", () => {
    const none = { uid: 1000, which: () => undefined, docker: undefined };
    expect(() => requireDockerPrerequisites(none)).to.throw(
      MissingPrerequisiteError,
      /root .*dockerd \(package docker\.io\).*ip \(package iproute2\).*docker \(package docker\.io\)/,
    );
    const onlyDockerdMissing = {
      uid: 0,
      which: (cmd: string) => (cmd === "dockerd" ? undefined : `/usr/bin/${cmd}`),
      docker: "/usr/bin/docker",
    };
    expect(() => requireDockerPrerequisites(onlyDockerdMissing)).to.throw(
      /need: dockerd \(package docker\.io\); \.ci\/run installs docker\.io$/,
    );
    const all = { uid: 0, which: (cmd: string) => `/usr/bin/${cmd}`, docker: "/usr/bin/docker" };
    expect(() => requireDockerPrerequisites(all)).to.not.throw();
  });

  it("the storage driver: overlay2 on ext4/xfs, vfs elsewhere, a bad override named", async () => {
    expect(await storageDriver("/proc", {})).to.equal("vfs");
    expect(await storageDriver("/proc", { ATP_DOCKER_STORAGE_DRIVER: "overlay2" })).to.equal(
      "overlay2",
    );
    const bad = await storageDriver("/tmp", { ATP_DOCKER_STORAGE_DRIVER: "zfs" }).catch(
      (e: Error) => e.message,
    );
    expect(bad).to.equal("ATP_DOCKER_STORAGE_DRIVER must be overlay2 or vfs, got zfs");
  });
});
