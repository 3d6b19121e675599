import { expect } from "chai";
import { startHarness, type Harness } from "./harness";

interface Answer {
  status: number;
  text: string;
  cookies: string[];
  location: string | null;
}

/** A form post as a browser sends it; `cookie` only when the browser would attach one. */
async function post(
  url: string,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(url + path, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return {
    status: res.status,
    text: await res.text(),
    cookies: res.headers.getSetCookie(),
    location: res.headers.get("location"),
  };
}

function cookieValue(a: Answer, name: string): string {
  const c = a.cookies.find((x) => x.startsWith(`${name}=`));
  if (!c) throw new Error(`no ${name} cookie in ${JSON.stringify(a.cookies)}`);
  return c.slice(name.length + 1, c.indexOf(";"));
}

function preField(a: Answer): string {
  const m = /name="pre" value="([^"]+)"/.exec(a.text);
  if (!m) throw new Error("no pre field in the code form");
  return m[1]!;
}

/** Issue 11, Low: login CSRF on /login/verify and /verify. */
describe("registrar pages: login CSRF", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  it("Low: a form another site posts to /login/verify with the attacker's own code does not sign the victim in", async () => {
    // The attacker asks for a code for their own email, in their own browser.
    const asked = await post(h.url, "/login", { email: "attacker@example.com" });
    expect(asked.status).to.equal(200);
    expect(cookieValue(asked, "atp_pre")).to.equal(preField(asked));
    expect(asked.cookies.join()).to.contain("SameSite=Strict");
    const fields = {
      email: "attacker@example.com",
      code: h.mailer.lastCode("attacker@example.com"),
      pre: preField(asked),
    };
    // The victim's browser posts the attacker's form: no atp_pre cookie of the attacker.
    const variants: Record<string, string>[] = [
      {},
      { Origin: "http://evil.example" },
      { Cookie: "atp_pre=victims0wn0000000000000000" },
    ];
    for (const headers of variants) {
      const forged = await post(h.url, "/login/verify", fields, headers);
      expect(forged.status, JSON.stringify(headers)).to.equal(403);
      expect(forged.cookies.join()).not.to.contain("atp_session=");
    }
    // Cross-origin even with the right cookie: refused.
    const crossOrigin = await post(h.url, "/login/verify", fields, {
      Cookie: `atp_pre=${fields.pre}`,
      Origin: "http://evil.example",
    });
    expect(crossOrigin.status).to.equal(403);
    // The browser that asked for the code signs in.
    const ok = await post(h.url, "/login/verify", fields, {
      Cookie: `atp_pre=${fields.pre}`,
      Origin: new URL(h.url).origin,
    });
    expect(ok.status, ok.text).to.equal(303);
    expect(cookieValue(ok, "atp_session")).to.have.length.greaterThan(20);
  });

  it("Low: a form another site posts to /verify with the attacker's registration code does not sign the victim in", async () => {
    const asked = await post(h.url, "/register", {
      atsign: "csrfvictim1",
      email: "att@example.com",
    });
    expect(asked.status, asked.text).to.equal(200);
    const fields = {
      atsign: "csrfvictim1",
      email: "att@example.com",
      code: h.mailer.lastCode("att@example.com"),
      pre: preField(asked),
    };
    const forged = await post(h.url, "/verify", fields);
    expect(forged.status).to.equal(403);
    expect(forged.cookies.join()).not.to.contain("atp_session=");
    expect(h.registrar.store.get("csrfvictim1")!.state).to.equal("reserved");
    const ok = await post(h.url, "/verify", fields, { Cookie: `atp_pre=${fields.pre}` });
    expect(ok.status, ok.text).to.equal(303);
    expect(ok.location).to.equal("/atsigns/csrfvictim1");
  });
});
