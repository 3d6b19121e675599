import { expect } from "chai";
import { api, processesWith, startHarness, type Harness } from "./harness";

describe("registrar: concurrent activations", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  it("ten simultaneous activations of one atSign start exactly one atServer; one gets the secret", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=racer&ActivationKey=race1234");
    expect(got.status).to.equal(200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        api(h.url, "/api/app/v3/activate-atsign", {
          body: { atSign: "@racer", ActivationKey: "race1234" },
        }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    expect(ok, answers.map((a) => a.text).join("\n")).to.have.length(1);
    expect(ok[0]!.json.cramkey).to.match(/^@racer:[0-9a-f]{128}$/);
    for (const a of answers.filter((x) => x !== ok[0])) expect(a.status, a.text).to.equal(400);
    expect(processesWith(h.orchestrator.storageDir("racer"))).to.have.length(1);
    expect(h.registrar.store.placementCount()).to.equal(1);
    const kinds = h.registrar.store.events("racer").map((e) => e.kind);
    expect(kinds.filter((k) => k === "allocated")).to.have.length(1);
    expect(kinds.filter((k) => k === "atserver_started")).to.have.length(1);
    expect(kinds.slice(-2)).to.deep.equal(["active", "secret_delivered"]);
  });

  it("two atSigns never share a (swarm, port)", async () => {
    const names = ["pa", "pb"];
    await Promise.all(
      names.map(async (n) => {
        await api(h.url, `/api/app/v3/get-atsign?atSign=${n}&ActivationKey=key-${n}`);
        await api(h.url, "/api/app/v3/activate-atsign", {
          body: { atSign: n, ActivationKey: `key-${n}` },
        });
      }),
    );
    const ports = names.map((n) => h.registrar.store.get(n)!.port);
    expect(new Set(ports).size).to.equal(names.length);
    for (const n of names)
      expect(await h.lookup(n)).to.equal(`127.0.0.1:${h.registrar.store.get(n)!.port}`);
  });
});
