import { existsSync, readFileSync } from "node:fs";
import { expect } from "chai";
import { api, processesWith, startHarness, type Harness } from "./harness";

describe("registrar JSON APIs (Part C) against a live registrar", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  it("v3 API-key flow: get-atsign then activate-atsign, atServer placed and in the root", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=&ActivationKey=");
    expect(got.status).to.equal(200);
    expect(got.headers.get("content-type")).to.match(/^application\/json/);
    expect(Object.keys(got.json)).to.deep.equal(["value"]);
    const { atSign, ActivationKey } = got.json.value;
    expect(atSign).to.match(/^@[a-z]+\d+$/);
    expect(ActivationKey).to.be.a("string").with.length.greaterThan(8);

    const act = await api(h.url, "/api/app/v3/activate-atsign", {
      body: { atSign, ActivationKey },
    });
    expect(act.status).to.equal(200);
    expect(act.json.status).to.equal("success");
    expect(act.json.cramkey.startsWith(`${atSign}:`)).to.equal(true);
    const secret = act.json.cramkey.slice(act.json.cramkey.indexOf(":") + 1);
    expect(secret).to.match(/^[0-9a-f]{128}$/);

    const name = atSign.slice(1);
    const rec = h.registrar.store.get(name)!;
    expect(rec.state).to.equal("active");
    expect(await h.lookup(name)).to.equal(`127.0.0.1:${rec.port}`);
    // The secret reached the atServer as a 0600 file, never on its command line; once it is
    // handed out the file is gone (the atServer imported its own copy).
    const file = h.registrar.provisioner.secretFilePath(name);
    expect(existsSync(file)).to.equal(false);
    const pids = processesWith(h.orchestrator.storageDir(name));
    expect(pids).to.have.length(1);
    expect(readFileSync(`/proc/${pids[0]}/cmdline`, "utf8")).not.to.contain(secret);
    expect(readFileSync(`/proc/${pids[0]}/environ`, "utf8")).not.to.contain(secret);

    // The activation key is spent: asking again gives no secret and starts nothing.
    const again = await api(h.url, "/api/app/v3/activate-atsign", {
      body: { atSign, ActivationKey },
    });
    expect(again.status).to.equal(400);
    expect(again.text).not.to.contain(secret);
    expect(processesWith(h.orchestrator.storageDir(name))).to.deep.equal(pids);
  });

  it("v3 preset atSign with a chosen activation key; wrong key refused", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=%40Preset1&ActivationKey=abcd1234");
    expect(got.json).to.deep.equal({ value: { atSign: "@preset1", ActivationKey: "abcd1234" } });
    const bad = await api(h.url, "/api/app/v3/activate-atsign", {
      body: { atSign: "@preset1", ActivationKey: "nope0000" },
    });
    expect(bad.status).to.equal(400);
    expect(bad.json.status).to.equal("error");
    const taken = await api(h.url, "/api/app/v3/get-atsign?atSign=preset1&ActivationKey=other999");
    expect(taken.status).to.equal(409);
  });

  it("v2 email flow: get-free-atsign, register-person, validate-person (retry, verified, follow-up)", async () => {
    const free = await api(h.url, "/api/app/v2/get-free-atsign");
    expect(free.status).to.equal(200);
    expect(Object.keys(free.json)).to.deep.equal(["data"]);
    const atsign: string = free.json.data.atsign;
    expect(atsign).to.match(/^@/);
    const email = "Person@Example.com";

    const reg = await api(h.url, "/api/app/v2/register-person", { body: { email, atsign } });
    expect(reg.status).to.equal(200);
    expect(reg.json.message).to.contain("Sent Successfully");

    const wrong = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign, otp: "000000", confirmation: false },
    });
    expect(wrong.status).to.equal(200);
    expect(wrong.json.message).to.contain("Try again");
    expect(wrong.json.message).not.to.equal("Verified");

    const otp = h.mailer.lastCode("person@example.com");
    const ok = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign, otp, confirmation: false },
    });
    expect(ok.status).to.equal(200);
    expect(ok.json.message).to.equal("Verified");
    expect(ok.json.cramkey).to.match(new RegExp(`^${atsign}:[0-9a-f]{128}$`));
    expect(h.registrar.store.get(atsign.slice(1))!.state).to.equal("active");
    // The code is spent with the answer that carried the secret.
    const retried = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign, otp, confirmation: false },
    });
    expect(retried.json).to.deep.equal({ message: "Invalid code. Try again" });

    // A second atSign for the same email asks for confirmation first.
    const second = "@second" + Date.now().toString().slice(-5);
    await api(h.url, "/api/app/v2/register-person", { body: { email, atsign: second } });
    const otp2 = h.mailer.lastCode("person@example.com");
    const ask = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign: second, otp: otp2, confirmation: false },
    });
    expect(ask.json.newAtsign).to.equal(second);
    expect(ask.json.message).not.to.equal("Verified");
    const confirmed = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign: second, otp: otp2, confirmation: true },
    });
    expect(confirmed.json.message).to.equal("Verified");
    expect(confirmed.json.cramkey.startsWith(`${second}:`)).to.equal(true);
  });

  it("/api/status counts atSigns by state; /healthz answers without listing them", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=counted&ActivationKey=kkkk3333");
    await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    const status = await api(h.url, "/api/status", { key: null });
    expect(status.status).to.equal(200);
    expect(status.json.status).to.equal("ok");
    expect(status.json.atsigns.active).to.be.at.least(1);
    const health = await api(h.url, "/healthz", { key: null });
    expect(health.status).to.equal(200);
    expect(health.json).to.deep.equal({ status: "ok" });
  });

  it("delete: atServer stopped, storage archived, root answers null", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=doomed&ActivationKey=kkkk1111");
    await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(await h.lookup("doomed")).to.match(/^127\.0\.0\.1:\d+$/);
    const storage = h.orchestrator.storageDir("doomed");
    expect(processesWith(storage)).to.have.length(1);

    const del = await api(h.url, "/api/admin/atsigns/doomed/delete", {
      method: "POST",
      key: `Bearer ${process.env.NEVER ?? "test-admin-key-0123456789abcdef"}`,
    });
    expect(del.status).to.equal(202);
    const rec = await h.registrar.provisioner.waitFor(
      "doomed",
      (r) => r?.state === "deleted",
      15_000,
    );
    expect(rec!.state).to.equal("deleted");
    expect(await h.lookup("doomed")).to.equal(null);
    expect(processesWith(storage)).to.have.length(0);
    const { existsSync, readdirSync } = await import("node:fs");
    expect(existsSync(storage)).to.equal(false);
    expect(readdirSync(`${h.home}/archive`)).to.have.length(1);
    // The name is free again.
    const again = await api(h.url, "/api/app/v3/get-atsign?atSign=doomed&ActivationKey=kkkk2222");
    expect(again.status).to.equal(200);
  });
});
