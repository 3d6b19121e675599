import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import type { DirectoryServer } from "@atplatform/directory";
import { rootResolver, shardedPath } from "@atplatform/registrar";
import { freePort } from "../support/ports";
import { testTls } from "../support/test-ca";
import { ADMIN_KEY, api, processesWith, startDirectory } from "./harness";

const BIN = resolve(__dirname, "../../services/registrar/bin/registrar.js");

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("registrar killed mid-provisioning (real child process, SIGKILL)", function () {
  let home: string;
  let directory: DirectoryServer;
  let child: ChildProcess | undefined;
  const children: ChildProcess[] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "atp-crash-"));
    directory = await startDirectory(join(home, "records.txt"));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    // Leftover atServers of a killed registrar are this test's to clean up.
    for (const name of ["phoenix-atserver-started", "phoenix-directory-written"])
      for (const pid of processesWith(join(home, "atservers", shardedPath(name), "storage")))
        process.kill(pid, "SIGKILL");
    await directory?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  async function startRegistrar(port: number, extra: Record<string, string> = {}): Promise<string> {
    const tls = await testTls();
    const base = 20000 + (port % 20000);
    child = spawn(process.execPath, [BIN], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        LOG_LEVEL: "warn",
        REGISTRAR_DATA_DIR: home,
        REGISTRAR_PORT: String(port),
        REGISTRAR_API_KEY: "crash-test-api-key-0123456789",
        REGISTRAR_ADMIN_KEY: ADMIN_KEY,
        REGISTRAR_ROOT: `127.0.0.1:${directory.port}`,
        REGISTRAR_CA_FILE: tls.files.ca,
        REGISTRAR_CERT_FILE: tls.files.cert,
        REGISTRAR_KEY_FILE: tls.files.key,
        REGISTRAR_DIRECTORY_FILE: join(home, "records.txt"),
        REGISTRAR_SWARMS: `local=127.0.0.1:${base}-${base + 50}`,
        REGISTRAR_ACTIVATION_WAIT_MS: "1000",
        ...extra,
      },
    });
    children.push(child);
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => (out.includes("registrar listening on") ? true : undefined),
      "registrar start",
    );
    return url;
  }

  for (const haltAfter of ["atserver_started", "directory_written"]) {
    it(`killed after ${haltAfter}: resumes after restart, one atServer, one placement`, async () => {
      const name = `phoenix-${haltAfter.replace("_", "-")}`;
      const port = await freePort();
      const key = "crash-test-api-key-0123456789";
      let url = await startRegistrar(port, { REGISTRAR_FAULT_HALT_AFTER: haltAfter });
      const got = await api(url, `/api/app/v3/get-atsign?atSign=${name}&ActivationKey=fire1234`, {
        key,
      });
      expect(got.status).to.equal(200);
      // The activation cannot finish (halted), so it answers 503 "still being provisioned".
      const first = await api(url, "/api/app/v3/activate-atsign", {
        key,
        body: { atSign: `@${name}`, ActivationKey: "fire1234" },
      });
      expect(first.status).to.equal(503);
      const admin = { key: `Bearer ${ADMIN_KEY}` };
      await waitFor(async () => {
        const s = await api(url, `/api/admin/atsigns/${name}`, admin);
        return s.json?.state === haltAfter ? true : undefined;
      }, haltAfter);
      const storage = join(home, "atservers", shardedPath(name), "storage");
      await waitFor(
        async () => (processesWith(storage).length === 1 ? true : undefined),
        "atServer",
      );
      const orphan = processesWith(storage)[0];

      child!.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));

      url = await startRegistrar(port);
      const done = await waitFor(async () => {
        const s = await api(url, `/api/admin/atsigns/${name}`, admin);
        return s.json?.state === "active" ? s.json : undefined;
      }, "active");
      const pids = processesWith(storage);
      expect(pids).to.have.length(1);
      expect(pids[0]).not.to.equal(orphan);
      // The registrar's own secrets stay out of the atServer's environment.
      const { readFileSync } = await import("node:fs");
      expect(readFileSync(`/proc/${pids[0]}/environ`, "utf8")).not.to.contain(key);
      const events = (done.events as { kind: string }[]).map((e) => e.kind);
      expect(events.filter((k) => k === "allocated")).to.have.length(1);
      const lookup = rootResolver({
        host: "127.0.0.1",
        port: directory.port!,
        ca: (await testTls()).ca,
      });
      expect(await lookup(name)).to.equal(`127.0.0.1:${done.port}`);

      // Activating again returns the same secret as the first request did (idempotent).
      const again = await api(url, "/api/app/v3/activate-atsign", {
        key,
        body: { atSign: `@${name}`, ActivationKey: "fire1234" },
      });
      expect(again.status).to.equal(200);
      expect(processesWith(storage)).to.deep.equal(pids);

      child!.kill("SIGTERM");
      await new Promise((r) => child!.once("exit", r));
      expect(processesWith(storage)).to.have.length(0);
    });
  }
});
