import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { ADMIN_KEY, api, startHarness, type Harness } from "./harness";

/** Issue 11, M5: provisioning gives up on a permanent error with a clear state. */
describe("registrar: provisioning gives up on permanent errors", function () {
  let h: Harness;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "atp-refusing-"));
    // Stands in for an atServer that refuses its configuration, exactly as bin/atserver.js
    // reports a ConfigError: "atserver: <reason>" on stderr, exit code 1.
    const bin = join(dir, "refusing-atserver.js");
    writeFileSync(
      bin,
      'process.stderr.write("atserver: --atsign: not an atSign: @x (refused)\\n");\nprocess.exitCode = 1;\n',
    );
    h = await startHarness({ atserverBin: bin, activationWaitMs: 1000 });
  });
  after(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("M5: an atServer that refuses its configuration is not restarted forever: state failed, port freed, clear answers", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=refused1&ActivationKey=refused-1");
    expect(got.status, got.text).to.equal(200);
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status).to.equal(503);
    const rec = await h.registrar.provisioner.waitFor(
      "refused1",
      (r) => r?.state === "failed",
      30_000,
    );
    expect(rec?.state, rec?.lastError ?? "").to.equal("failed");
    expect(rec!.lastError).to.contain("refused its configuration");
    expect(rec!.port).to.equal(null);
    expect(h.registrar.store.placementCount()).to.equal(0);
    const status = await h.orchestrator.inspect("refused1");
    expect(status.state).to.equal("stopped");

    const again = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(again.status).to.equal(409);
    expect(again.json.message).to.contain("could not be provisioned");
    const admin = await api(h.url, "/api/admin/atsigns/refused1", { key: `Bearer ${ADMIN_KEY}` });
    expect(admin.json).to.include({ state: "failed" });

    // An administrator deletes it; the name is free again.
    const del = await api(h.url, "/api/admin/atsigns/refused1/delete", {
      method: "POST",
      key: `Bearer ${ADMIN_KEY}`,
    });
    expect(del.status, del.text).to.equal(202);
    const gone = await h.registrar.provisioner.waitFor(
      "refused1",
      (r) => r?.state === "deleted",
      15_000,
    );
    expect(gone?.state).to.equal("deleted");
  });

  it("M5: a stored name the atServer would refuse (from before the shared grammar) fails at once", async () => {
    const store = h.registrar.store;
    expect(store.reserve("foo.bar", { activationKey: "legacy-key" })).to.equal(true);
    store.request("foo.bar", "s".repeat(128));
    await h.registrar.provisioner.drive("foo.bar");
    const rec = store.get("foo.bar")!;
    expect(rec.state).to.equal("failed");
    expect(rec.lastError).to.equal("@foo.bar is not a valid atSign");
    expect(rec.attempts).to.equal(0);
    expect(store.placementCount()).to.equal(0);
  });
});
