import { expect } from "chai";
import { resolveConfig as atServerConfig } from "../../services/atserver/src/config";
import { atSignArg } from "../../services/local/src/cli/args";
import { api, startHarness, type Harness } from "./harness";

const REFUSED = ["foo.bar", "a+b", "x!y", "a$b", "semi;colon", "tab\tbed", "a:b", "x".repeat(56)];
const ACCEPTED = ["alice", "Bob_1", "x-y", "émile", "🦄unicorn", "数字7"];

function atServerAccepts(name: string): boolean {
  try {
    atServerConfig({ atSign: `@${name}`, port: "1", cert: "c", key: "k", storage: "/tmp/s" }, {});
    return true;
  } catch {
    return false;
  }
}

function cliAccepts(name: string): boolean {
  try {
    atSignArg(name, "atSign");
    return true;
  } catch {
    return false;
  }
}

/** Issue 11, M5: one atSign grammar (services/protocol) for the registrar, atServer and CLI. */
describe("atSign grammar shared by the registrar, the atServer and the CLI", function () {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  it("M5: names the atServer refuses (foo.bar, a+b, x!y, ...) are refused by the registrar and the CLI", async () => {
    for (const name of REFUSED) {
      expect(atServerAccepts(name), name).to.equal(false);
      expect(cliAccepts(name), name).to.equal(false);
      const v3 = await api(h.url, `/api/app/v3/get-atsign?atSign=${encodeURIComponent(name)}`);
      expect(v3.status, name).to.equal(400);
      expect(v3.json.message).to.be.a("string");
      const v2 = await api(h.url, "/api/app/v2/register-person", {
        body: { email: "g@example.com", atsign: name },
      });
      expect(v2.status, name).to.equal(400);
    }
    expect(h.registrar.store.list()).to.deep.equal([]);
  });

  it("M5: names the atServer serves are accepted by all three, in the same canonical form", async () => {
    for (const name of ACCEPTED) {
      expect(atServerAccepts(name), name).to.equal(true);
      expect(cliAccepts(name), name).to.equal(true);
      const r = await api(h.url, `/api/app/v3/get-atsign?atSign=${encodeURIComponent(name)}`);
      expect(r.status, `${name}: ${r.text}`).to.equal(200);
      expect(r.json.value.atSign).to.equal(atSignArg(name, "atSign"));
    }
  });
});
