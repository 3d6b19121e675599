import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LocalPlatform, localConfigFromEnv } from "@atplatform/local";
import { setRegistrarLogLevel } from "@atplatform/registrar";
import { freePort } from "../support/ports";

describe("local platform first run: generated API key, kept across starts, one platform per home", function () {
  let home: string;
  const running: LocalPlatform[] = [];
  before(() => {
    setRegistrarLogLevel("error");
    home = mkdtempSync(join(tmpdir(), "atp-first-"));
  });
  after(async () => {
    for (const p of running) await p.stop();
    rmSync(home, { recursive: true, force: true });
  });

  async function platform(lines: string[]): Promise<LocalPlatform> {
    const base = await freePort();
    const config = localConfigFromEnv({
      ATPLATFORM_HOME: home,
      ROOT_PORT: String(await freePort()),
      REGISTRAR_PORT: String(await freePort()),
      ATPLATFORM_ATSERVER_PORTS: `${base}-${base + 5}`,
    });
    return new LocalPlatform(config, { print: (l) => lines.push(l) });
  }

  it("M4: generates an API key and a distinct admin key (0600) on first run, then keeps them", async () => {
    const lines: string[] = [];
    const first = await platform(lines);
    running.push(first);
    await first.start();
    const key = readFileSync(join(home, "api-key"), "utf8").trim();
    expect(key).to.have.length.greaterThan(20);
    expect(statSync(join(home, "api-key")).mode & 0o777).to.equal(0o600);
    expect(lines.join("\n")).to.contain(`Registrar API key:   ${key} (generated;`);
    const info = JSON.parse(readFileSync(join(home, "platform.json"), "utf8"));
    expect(info.caFile).to.equal(join(home, "ca.pem"));

    // M4: a generated admin key of its own (0600); the API key does not open the admin API.
    const adminKey = readFileSync(join(home, "admin-key"), "utf8").trim();
    expect(adminKey).to.have.length.greaterThan(20).and.not.equal(key);
    expect(statSync(join(home, "admin-key")).mode & 0o777).to.equal(0o600);
    expect(info.adminKeyFile).to.equal(join(home, "admin-key"));
    const asApi = await fetch(`${info.registrarUrl}/api/admin/atsigns`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    expect(asApi.status).to.equal(401);
    const asAdmin = await fetch(`${info.registrarUrl}/api/admin/atsigns`, {
      headers: { Authorization: `Bearer ${adminKey}` },
    });
    expect(asAdmin.status).to.equal(200);
    expect(lines.join("\n")).not.to.contain(adminKey);

    // A second platform on the same data directory is refused while the first runs.
    const second = await platform([]);
    let refused = "";
    await second.start().catch((err: Error) => (refused = err.message));
    expect(refused).to.match(/another atPlatform \(pid \d+\) is using/);

    await first.stop();
    running.pop();
    const again: string[] = [];
    const third = await platform(again);
    running.push(third);
    await third.start();
    expect(again.join("\n")).to.contain(`Registrar API key:   ${key} (kept in`);
  });

  it("Low: a pid file whose pid now belongs to another process (after kill -9) does not block a restart", async () => {
    for (const p of running.splice(0)) await p.stop();
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const stat = readFileSync(`/proc/${other.pid}/stat`, "utf8");
      const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      // The pid file names a live process that really started when the file says: refused.
      writeFileSync(join(home, "platform.pid"), `${other.pid} ${started}\n`);
      let refused = "";
      await (await platform([])).start().catch((err: Error) => (refused = err.message));
      expect(refused).to.match(/another atPlatform/);
      // The same pid, but not the process that wrote the file (reused pid): taken over.
      writeFileSync(join(home, "platform.pid"), `${other.pid} 1\n`);
      const next = await platform([]);
      running.push(next);
      await next.start();
      expect(readFileSync(join(home, "platform.pid"), "utf8")).to.match(
        new RegExp(`^${process.pid} \\d+\n$`),
      );
    } finally {
      other.kill("SIGKILL");
    }
  });
});
