import { expect } from "chai";
import { configFromEnv, ConfigError, resolveConfig } from "@atplatform/registrar";
import { ADMIN_KEY, API_KEY, api, startHarness, type Harness } from "./harness";

const ENV = {
  REGISTRAR_API_KEY: API_KEY,
  REGISTRAR_ROOT: "127.0.0.1:6464",
  REGISTRAR_DIRECTORY_FILE: "/tmp/records.txt",
};

/** Issue 11, M4: the API key is not an admin key; API-key holders have budgets. */
describe("registrar: admin key and API budgets", function () {
  describe("configuration", () => {
    it("M4: the registrar refuses to start without an admin key, or with the API key as admin key", () => {
      expect(() => configFromEnv(ENV)).to.throw(ConfigError, /REGISTRAR_ADMIN_KEY is required/);
      expect(() => configFromEnv({ ...ENV, REGISTRAR_ADMIN_KEY: API_KEY })).to.throw(
        ConfigError,
        /differ/,
      );
      expect(() =>
        resolveConfig({ dataDir: "/tmp/x", apiKey: API_KEY, adminKey: API_KEY }),
      ).to.throw(ConfigError);
      const ok = configFromEnv({ ...ENV, REGISTRAR_ADMIN_KEY: ADMIN_KEY });
      expect(ok.registrar.adminKey).to.equal(ADMIN_KEY);
      expect(ok.registrar.apiLimits).to.deep.equal({
        perIpPerMinute: 60,
        perKeyPerMinute: 600,
        newPerIpPerHour: 30,
        newPerKeyPerHour: 1000,
      });
      const set = configFromEnv({
        ...ENV,
        REGISTRAR_ADMIN_KEY: ADMIN_KEY,
        REGISTRAR_API_RATE_PER_IP: "5",
        REGISTRAR_NEW_ATSIGNS_PER_KEY: "0",
        REGISTRAR_RESERVATION_TTL_MS: "60000",
      });
      expect(set.registrar.apiLimits).to.include({ perIpPerMinute: 5, newPerKeyPerHour: 0 });
      expect(set.registrar.reservationTtlMs).to.equal(60_000);
      expect(() =>
        configFromEnv({ ...ENV, REGISTRAR_ADMIN_KEY: ADMIN_KEY, REGISTRAR_API_RATE_PER_IP: "-1" }),
      ).to.throw(ConfigError);
    });
  });

  describe("per API key", () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({
        apiLimits: {
          perIpPerMinute: 0,
          perKeyPerMinute: 0,
          newPerIpPerHour: 0,
          newPerKeyPerHour: 3,
        },
      });
    });
    after(async () => {
      await h?.stop();
    });

    it("M4: an API-key holder cannot reserve without limit: over the hourly budget get-atsign answers 429 and reserves nothing", async () => {
      for (let i = 0; i < 3; i++) {
        const r = await api(h.url, `/api/app/v3/get-atsign?atSign=budget${i}`);
        expect(r.status, r.text).to.equal(200);
      }
      const over = await api(h.url, "/api/app/v3/get-atsign?atSign=budget3");
      expect(over.status).to.equal(429);
      expect(over.json).to.deep.equal({
        status: "error",
        message: "too many requests, try again later",
      });
      const act = await api(h.url, "/api/app/v3/activate-atsign", {
        body: { atSign: "@budget0", ActivationKey: "whatever" },
      });
      expect(act.status).to.equal(429);
      expect(h.registrar.store.get("budget3")).to.equal(undefined);
      // The admin API is not an API-key budget and still answers.
      const list = await api(h.url, "/api/admin/atsigns", { key: `Bearer ${ADMIN_KEY}` });
      expect(list.status).to.equal(200);
    });
  });

  describe("per IP", () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({
        apiLimits: {
          perIpPerMinute: 5,
          perKeyPerMinute: 0,
          newPerIpPerHour: 0,
          newPerKeyPerHour: 0,
        },
      });
    });
    after(async () => {
      await h?.stop();
    });

    it("M4: one address guessing API keys or flooding the API gets 429 after its per-minute budget", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (await api(h.url, "/api/app/v2/get-free-atsign", { key: `wrong-${i}` })).status,
        );
      expect(statuses).to.deep.equal([403, 403, 403, 403, 403]);
      // Even the right key is refused from this address now.
      const r = await api(h.url, "/api/app/v2/get-free-atsign");
      expect(r.status).to.equal(429);
    });
  });
});
