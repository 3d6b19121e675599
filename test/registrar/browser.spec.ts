import { expect } from "chai";
import { chromium, type Browser } from "playwright-core";
import { ADMIN_KEY, api, startHarness, type Harness } from "./harness";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

describe("registrar pages in headless Chromium", function () {
  let h: Harness;
  let browser: Browser;
  before(async () => {
    h = await startHarness();
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("registers an atSign through the pages and shows its activation secret and QR code", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(h.url + "/");
    expect(await page.title()).to.contain("Get an atSign");
    const suggested = await page.getByLabel("atSign").inputValue();
    expect(suggested).to.match(/^@[a-z]+\d+$/);
    await page.getByLabel("atSign").fill("@WebUser1");
    await page.getByLabel("Email").fill("web@example.com");
    await page.getByRole("button", { name: "Send me a code" }).click();
    await page.getByText("We sent a six-digit code").waitFor();

    await page.getByLabel("One-time code").fill("123x56");
    // The pattern attribute blocks a bad code in the browser; submit a wrong valid-looking one.
    await page
      .getByLabel("One-time code")
      .fill(
        String((Number(h.mailer.lastCode("web@example.com")) + 1) % 1_000_000).padStart(6, "0"),
      );
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("alert").getByText("That code is not right").waitFor();

    await page.getByLabel("One-time code").fill(h.mailer.lastCode("web@example.com"));
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(/\/atsigns\/webuser1$/);
    // The page reloads itself (meta refresh, no JavaScript) until provisioning is done.
    await page.locator("#status", { hasText: /^active$/ }).waitFor({ timeout: 20_000 });
    const cramkey = (await page.locator("#cramkey").textContent())!.trim();
    const rec = h.registrar.store.get("webuser1")!;
    expect(cramkey).to.match(/^@webuser1:[0-9a-f]{128}$/);
    expect(await page.locator("figure.qr svg").count()).to.equal(1);
    // Shown once: the registrar no longer has it, a reload does not show it again.
    expect(rec.cramSecret).to.equal(null);
    await page.reload();
    await page.locator("#status", { hasText: /^active$/ }).waitFor();
    expect(await page.locator("#cramkey").count()).to.equal(0);
    // B2: it says the secret is spent rather than inviting a second use.
    expect(await page.locator("#secret-spent").textContent()).to.contain(
      "The activation secret was shown once and is spent",
    );
    expect(await h.lookup("webuser1")).to.equal(`127.0.0.1:${rec.port}`);

    // "My atSigns" lists it for the signed-in owner.
    await page.getByRole("link", { name: "My atSigns" }).click();
    await page.getByRole("link", { name: "@webuser1" }).waitFor();

    // Delete needs the confirmation box; then the root no longer resolves it.
    await page.goto(h.url + "/atsigns/webuser1");
    await page.getByLabel("I understand that @webuser1 will be deleted").check();
    await page.getByRole("button", { name: "Delete @webuser1" }).click();
    await page.getByText("is being deleted").waitFor();
    const gone = await h.registrar.provisioner.waitFor(
      "webuser1",
      (r) => r?.state === "deleted",
      15_000,
    );
    expect(gone!.state).to.equal("deleted");
    expect(await h.lookup("webuser1")).to.equal(null);
    await context.close();
  });

  it("admin pages (HTTP Basic): list atSigns, suspend and resume one", async () => {
    const got = await api(h.url, "/api/app/v3/get-atsign?atSign=adminee&ActivationKey=adm12345");
    const act = await api(h.url, "/api/app/v3/activate-atsign", { body: got.json.value });
    expect(act.status, act.text).to.equal(200);

    const context = await browser.newContext({
      javaScriptEnabled: false,
      httpCredentials: { username: "admin", password: ADMIN_KEY },
    });
    const page = await context.newPage();
    await page.goto(h.url + "/admin");
    const row = page.getByRole("row", { name: /@adminee/ });
    await row.getByText("active").waitFor();
    await row.getByRole("button", { name: "Suspend" }).click();
    await page.waitForURL(/\/admin$/);
    await h.registrar.provisioner.waitFor("adminee", (r) => r?.state === "suspended", 15_000);
    expect(await h.lookup("adminee")).to.equal(null);
    await page.goto(h.url + "/admin");
    await page
      .getByRole("row", { name: /@adminee/ })
      .getByRole("button", { name: "Resume" })
      .click();
    const back = await h.registrar.provisioner.waitFor(
      "adminee",
      (r) => r?.state === "active",
      15_000,
    );
    expect(back!.state).to.equal("active");
    await page.goto(h.url + "/admin/atsigns/adminee");
    await page.getByRole("cell", { name: "suspended" }).first().waitFor();
    await page.getByText(/^running, pid \d+$/).waitFor();
    await context.close();
  });
});
