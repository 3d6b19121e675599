import { existsSync, readFileSync } from "node:fs";
import { expect } from "chai";
import { AtClient, generateRsaKeyPair } from "@atplatform/protocol";
import { api, processesWith, startHarness, type Harness } from "./harness";

/** Attacks on activation keys and CRAM secrets (issue 11, H7). */
describe("registrar: activation keys and CRAM secrets are handed out once", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  async function connect(name: string): Promise<AtClient> {
    const addr = await h.lookup(name);
    if (!addr) throw new Error(`${name} does not resolve`);
    const [host, port] = addr.split(":");
    return AtClient.connect({ host: host!, port: Number(port), ca: h.ca, atSign: `@${name}` });
  }

  it("H7: a second get-atsign for a name reserved through the v3 API is 'not available' and reveals no ActivationKey", async () => {
    const mine = await api(h.url, "/api/app/v3/get-atsign?atSign=victim1&ActivationKey=");
    expect(mine.status, mine.text).to.equal(200);
    const key: string = mine.json.value.ActivationKey;
    for (const q of ["atSign=victim1&ActivationKey=", "atSign=%40Victim1", "atSign=victim1"]) {
      const theirs = await api(h.url, `/api/app/v3/get-atsign?${q}`);
      expect(theirs.status, theirs.text).to.equal(409);
      expect(theirs.json).to.deep.equal({ status: "error", message: "@victim1 is not available" });
      expect(theirs.text).not.to.contain(key);
    }
    // A random name is never someone else's reservation either.
    const random = await api(h.url, "/api/app/v3/get-atsign?atSign=&ActivationKey=");
    expect(random.json.value.atSign).not.to.equal("@victim1");
    // The caller who made the reservation can still activate it.
    const act = await api(h.url, "/api/app/v3/activate-atsign", {
      body: { atSign: "@victim1", ActivationKey: key },
    });
    expect(act.status, act.text).to.equal(200);
    expect(act.json.cramkey).to.match(/^@victim1:[0-9a-f]{128}$/);
  });

  it("H7: an activation key is single-use: activate-atsign again returns no CRAM secret", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=once1&ActivationKey=once-key-1");
    expect(got.status, got.text).to.equal(200);
    const body = { atSign: "@once1", ActivationKey: "once-key-1" };
    const first = await api(h.url, "/api/app/v3/activate-atsign", { body });
    expect(first.status, first.text).to.equal(200);
    const secret = first.json.cramkey.slice(first.json.cramkey.indexOf(":") + 1);
    const second = await api(h.url, "/api/app/v3/activate-atsign", { body });
    expect(second.status).to.equal(400);
    expect(second.text).not.to.contain(secret);
    // Nor can the spent key be re-presented to re-reserve the name.
    const again = await api(h.url, "/api/app/v3/get-atsign?atSign=once1&ActivationKey=once-key-1");
    expect(again.status).to.equal(409);
  });

  it("H7: a one-time code is single-use: validate-person again returns no CRAM secret", async () => {
    const email = "owner@example.com";
    await api(h.url, "/api/app/v2/register-person", { body: { email, atsign: "@mailed1" } });
    const otp = h.mailer.lastCode(email);
    const body = { email, atsign: "@mailed1", otp, confirmation: true };
    const first = await api(h.url, "/api/app/v2/validate-person", { body });
    expect(first.json.message, first.text).to.equal("Verified");
    const second = await api(h.url, "/api/app/v2/validate-person", { body });
    expect(second.json).to.deep.equal({ message: "Invalid code. Try again" });
  });

  it("H7: after onboarding the CRAM secret is in neither registrar.sqlite nor a .cram file, and the atServer restarts without it", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=onboarded1&ActivationKey=ob-key-1");
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status, act.text).to.equal(200);
    const secret: string = act.json.cramkey.slice(act.json.cramkey.indexOf(":") + 1);

    const pkam = generateRsaKeyPair();
    const c = await connect("onboarded1");
    await c.cram(secret);
    await c.execute(`update:privatekey:at_pkam_publickey ${pkam.publicKey}`);
    await c.execute("update:public:note@onboarded1 kept");
    await c.execute("delete:privatekey:at_secret");
    await c.close();

    expect(h.registrar.store.get("onboarded1")!.cramSecret).to.equal(null);
    expect(existsSync(h.registrar.provisioner.secretFilePath("onboarded1"))).to.equal(false);
    for (const f of ["", "-wal", "-shm"].map((x) => `${h.home}/registrar/registrar.sqlite${x}`))
      if (existsSync(f)) expect(readFileSync(f).includes(secret), f).to.equal(false);

    // A crashed atServer comes back without a secret file and still serves its data.
    const storage = h.orchestrator.storageDir("onboarded1");
    const [pid] = processesWith(storage);
    process.kill(pid!, "SIGKILL");
    const deadline = Date.now() + 20_000;
    let now: number[] = [];
    while (Date.now() < deadline) {
      now = processesWith(storage);
      if (now.length === 1 && now[0] !== pid) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(now).to.have.length(1);
    expect(readFileSync(`/proc/${now[0]}/cmdline`, "utf8")).not.to.contain("--cram-secret-file");
    let answer = "";
    while (Date.now() < deadline) {
      const d = await connect("onboarded1").catch(() => undefined);
      if (d) {
        answer = await d
          .pkam(pkam.privateKey)
          .then(() => d.execute("llookup:public:note@onboarded1"))
          .catch((e: Error) => e.message);
        d.destroy();
        if (answer === "kept") break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(answer).to.equal("kept");
  });
});
