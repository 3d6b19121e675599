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
    // A new dataset is marked once (docs/directory.md); until then the directory closes.
    await primary.command("SET", DEFAULT_SENTINEL_KEY, "1");
    h = await startHarness({ redis: { primary, replica } });
  });
  after(async () => {
    await h?.stop();
    await replica?.stop();
    await primary?.stop();
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
