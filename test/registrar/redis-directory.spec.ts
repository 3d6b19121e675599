import { expect } from "chai";
import { DEFAULT_SENTINEL_KEY } from "@atplatform/directory";
import { TestRedis } from "../support/redis-server";
import { ADMIN_KEY, api, startHarness, type Harness } from "./harness";

describe("registrar with the cloud directory layout (Redis primary + replica)", function () {
  let primary: TestRedis;
  let replica: TestRedis;
  let h: Harness;
  before(async () => {
    primary = await TestRedis.start({ password: "registrar-test-pw" });
    replica = await TestRedis.start({ password: "registrar-test-pw", replicaOf: primary });
    h = await startHarness({ redis: { primary, replica } });
    // The directory trusts the replica once the mark has replicated and its next health
    // check ran (--redis-health-interval-ms, 1 s): until then lookups close.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await h.lookup("warm-up");
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
  after(async () => {
    await h?.stop();
    await replica?.stop();
    await primary?.stop();
  });

  it("a registrar with no atSign on record marks the new directory dataset (sentinel), so the directory answers null instead of closing", async () => {
    expect(await primary.command("GET", DEFAULT_SENTINEL_KEY)).to.equal("1");
    expect(await h.lookup("nobody-here")).to.equal(null);
  });

  it("writes the primary; the directory (reading the replica, cached) follows writes and deletes", async () => {
    // A miss first, so the directory caches "null" and must be told when it changes.
    expect(await h.lookup("cloudy")).to.equal(null);
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=cloudy&ActivationKey=cloud123");
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status, act.text).to.equal(200);
    const port = h.registrar.store.get("cloudy")!.port;
    expect(await primary.command("GET", "cloudy")).to.equal(`127.0.0.1:${port}`);
    expect(await h.lookup("cloudy")).to.equal(`127.0.0.1:${port}`);

    await api(h.url, "/api/admin/atsigns/cloudy/delete", {
      method: "POST",
      key: `Bearer ${ADMIN_KEY}`,
    });
    const rec = await h.registrar.provisioner.waitFor(
      "cloudy",
      (r) => r?.state === "deleted",
      15_000,
    );
    expect(rec!.state).to.equal("deleted");
    expect(await primary.command("GET", "cloudy")).to.equal(null);
    expect(await h.lookup("cloudy")).to.equal(null);
  });
});
