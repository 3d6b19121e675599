import { request } from "node:http";
import { expect } from "chai";
import { ADMIN_KEY, api, startHarness, type Harness } from "./harness";

/** A raw HTTP request (fetch normalises too much for some of these). */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: string | Buffer,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

describe("registrar: hostile HTTP input gets clear 4xx answers", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  it("API key: missing → 401, wrong → 403 (JSON error bodies)", async () => {
    const none = await api(h.url, "/api/app/v2/get-free-atsign", { key: null });
    expect(none.status).to.equal(401);
    expect(none.json).to.deep.equal({
      status: "error",
      message: "missing API key (Authorization header)",
    });
    const wrong = await api(h.url, "/api/app/v2/get-free-atsign", { key: "x".repeat(40) });
    expect(wrong.status).to.equal(403);
  });

  it("bodies: not JSON → 400, wrong media type → 415, array → 400, too large → 413", async () => {
    const p = "/api/app/v3/activate-atsign";
    expect((await api(h.url, p, { body: "{not json" })).status).to.equal(400);
    expect((await api(h.url, p, { body: "[1,2]" })).status).to.equal(400);
    const form = await api(h.url, p, {
      body: "atSign=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).to.equal(415);
    const big = await raw(
      h.url,
      "POST",
      p,
      { "Content-Type": "application/json", Authorization: "test-api-key-0123456789abcdef" },
      JSON.stringify({ atSign: "a".repeat(100_000) }),
    );
    expect(big.status).to.equal(413);
  });

  it("atSign names: control characters, separators, markup and overlong names → 400", async () => {
    for (const name of ["a:b", "a b", "<script>", "a/b", "..", "x".repeat(60), "a\u0000b", "@@"]) {
      const r = await api(
        h.url,
        `/api/app/v3/get-atsign?atSign=${encodeURIComponent(name)}&ActivationKey=abcd1234`,
      );
      expect(r.status, name).to.equal(400);
      expect(r.json.status).to.equal("error");
    }
    const badKey = await api(h.url, "/api/app/v3/get-atsign?atSign=fine&ActivationKey=%3Cx%3E");
    expect(badKey.status).to.equal(400);
  });

  it("unknown paths → 404, wrong methods → 405 with Allow, malformed URLs → 400", async () => {
    expect((await api(h.url, "/api/app/v9/nothing")).status).to.equal(404);
    const m = await api(h.url, "/api/app/v3/activate-atsign", { method: "GET" });
    expect(m.status).to.equal(405);
    expect(m.headers.get("allow")).to.equal("POST");
    const bad = await raw(h.url, "GET", "/atsigns/%E0%A4%A", {});
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain("malformed URL");
  });

  it("admin API and pages need the admin key; the user API key is not enough", async () => {
    expect((await api(h.url, "/api/admin/atsigns", { key: null })).status).to.equal(401);
    expect((await api(h.url, "/api/admin/atsigns")).status).to.equal(401);
    expect(
      (await api(h.url, "/api/admin/atsigns", { key: `Bearer ${ADMIN_KEY}` })).status,
    ).to.equal(200);
    const page = await raw(h.url, "GET", "/admin", {});
    expect(page.status).to.equal(401);
    expect(page.headers["www-authenticate"]).to.match(/^Basic/);
    const basic = Buffer.from(`admin:${ADMIN_KEY}`).toString("base64");
    expect(
      (await raw(h.url, "GET", "/admin", { Authorization: `Basic ${basic}` })).status,
    ).to.equal(200);
    // A form post without the admin form token is refused even with valid credentials.
    const forged = await raw(
      h.url,
      "POST",
      "/admin/atsigns/whoever/suspend",
      { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
      "swarm=x",
    );
    expect(forged.status).to.equal(403);
  });

  it("pages escape what users type and refuse forged session forms", async () => {
    const r = await raw(
      h.url,
      "POST",
      "/register",
      { "Content-Type": "application/x-www-form-urlencoded" },
      `atsign=${encodeURIComponent("<img src=x onerror=alert(1)>")}&email=a%40b.co`,
    );
    expect(r.status).to.equal(400);
    expect(r.text).not.to.contain("<img src=x");
    expect(r.text).to.contain("&lt;img src=x");
    expect(r.headers["content-security-policy"]).to.contain("default-src 'none'");
    const forged = await raw(
      h.url,
      "POST",
      "/atsigns/someone/delete",
      { "Content-Type": "application/x-www-form-urlencoded", Cookie: "atp_session=forged" },
      "confirm=true",
    );
    expect(forged.status).to.equal(303);
    expect(forged.headers.location).to.equal("/atsigns");
  });

  it("one-time codes: five wrong guesses exhaust the code", async () => {
    const email = "guess@example.com";
    await api(h.url, "/api/app/v2/register-person", { body: { email, atsign: "guessme" } });
    const code = h.mailer.lastCode(email);
    for (let i = 0; i < 5; i++) {
      const wrong = String((Number(code) + 1 + i) % 1_000_000).padStart(6, "0");
      const r = await api(h.url, "/api/app/v2/validate-person", {
        body: { email, atsign: "guessme", otp: wrong, confirmation: false },
      });
      expect(r.json.message).to.contain("Try again");
    }
    const late = await api(h.url, "/api/app/v2/validate-person", {
      body: { email, atsign: "guessme", otp: code, confirmation: false },
    });
    expect(late.json.message).to.contain("Try again");
  });
});
