// Rotating the registrar's onboarding and admin keys over its admin API, on a live registrar:
// the overlap window, retiring, hashed storage, restarts with a retired or a new configured
// key, bad input. Also: the roll-out API answers clearly on an orchestrator without images.
import "./quiet";
import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileRecordWriter } from "@atplatform/directory";
import { LocalOrchestrator, Registrar } from "@atplatform/registrar";
import { ADMIN_KEY, API_KEY, api } from "./harness";

describe("registrar access keys: rotation with an overlap window", function () {
  this.timeout(60_000);
  let dir: string;
  let registrar: Registrar | undefined;

  async function start(
    keys: { apiKey: string; adminKey: string } = { apiKey: API_KEY, adminKey: ADMIN_KEY },
    keyOverlapMs?: number,
  ): Promise<string> {
    const records = join(dir, "records.txt");
    writeFileSync(records, "", { flag: "a" });
    registrar = await Registrar.create(
      { dataDir: join(dir, "registrar"), port: 0, ...keys, keyOverlapMs },
      {
        orchestrator: new LocalOrchestrator({
          home: dir,
          certFile: "/nonexistent",
          keyFile: "/nonexistent",
          rootAddress: "127.0.0.1:1",
        }),
        records: new FileRecordWriter(records),
        healthProbe: async () => undefined,
      },
    );
    await registrar.start();
    return registrar.url;
  }
  async function restart(keys?: { apiKey: string; adminKey: string }, overlap?: number) {
    await registrar?.stop();
    return start(keys, overlap);
  }
  const onboard = (url: string, key: string) =>
    api(url, "/api/app/v2/get-free-atsign", { key }).then((r) => r.status);
  const admin = (url: string, path: string, body?: unknown, key = ADMIN_KEY) =>
    api(url, path, { key: `Bearer ${key}`, body });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-keys-"));
  });
  afterEach(async () => {
    await registrar?.stop();
    registrar = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("an API key rotation: the new key works at once, the old one until the deadline; only hashes are stored", async () => {
    const url = await start();
    const r = await admin(url, "/api/admin/keys/rotate", { kind: "api", overlapSeconds: 2 });
    expect(r.status).to.equal(201);
    expect(r.headers.get("cache-control")).to.equal("no-store");
    const fresh = r.json.key as string;
    expect(fresh).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(r.json.oldKeysValidUntil) - Date.now()).to.be.within(0, 2500);
    expect(await onboard(url, fresh)).to.equal(200);
    expect(await onboard(url, API_KEY)).to.equal(200);
    // The list never carries key material.
    const list = await admin(url, "/api/admin/keys");
    expect(list.text).not.to.include(fresh).and.not.to.include(API_KEY);
    expect(list.json.keys.map((k: { kind: string; source: string }) => k.source)).to.deep.equal([
      "config",
      "config",
      "rotated",
    ]);
    await new Promise((res) => setTimeout(res, 2100));
    expect(await onboard(url, API_KEY)).to.equal(403);
    expect(await onboard(url, fresh)).to.equal(200);
    // Neither key is in the database files, in any form but its hash.
    const files = readdirSync(join(dir, "registrar")).filter((f) => f.startsWith("registrar"));
    for (const f of files) {
      const bytes = readFileSync(join(dir, "registrar", f));
      expect(bytes.includes(fresh), f).to.equal(false);
      expect(bytes.includes(API_KEY), f).to.equal(false);
    }
  });

  it("retire ends the overlap now; an admin key rotation keeps the old one valid at least a minute", async () => {
    const url = await start();
    const apiKey = (await admin(url, "/api/admin/keys/rotate", { kind: "api" })).json.key;
    expect(await onboard(url, API_KEY)).to.equal(200);
    expect((await admin(url, "/api/admin/keys/retire", { kind: "api" })).json.retired).to.equal(1);
    expect(await onboard(url, API_KEY)).to.equal(403);
    expect(await onboard(url, apiKey)).to.equal(200);

    const tooShort = await admin(url, "/api/admin/keys/rotate", {
      kind: "admin",
      overlapSeconds: 0,
    });
    expect(tooShort.status).to.equal(400);
    expect(tooShort.json.message).to.match(/at least 60 s/);
    const r = await admin(url, "/api/admin/keys/rotate", { kind: "admin", overlapSeconds: 60 });
    const adminKey = r.json.key as string;
    expect((await admin(url, "/api/admin/keys", undefined, adminKey)).status).to.equal(200);
    expect((await admin(url, "/api/admin/keys")).status).to.equal(200);
    await admin(url, "/api/admin/keys/retire", { kind: "admin" }, adminKey);
    expect((await admin(url, "/api/admin/keys")).status).to.equal(401);
    expect((await admin(url, "/api/admin/keys", undefined, adminKey)).status).to.equal(200);
    // An onboarding key never opens the admin API, and an admin key never onboards.
    expect((await admin(url, "/api/admin/keys", undefined, apiKey)).status).to.equal(401);
    expect(await onboard(url, adminKey)).to.equal(403);
  });

  it("restarts: a retired configured key stays refused; a new configured key is accepted and starts the overlap of the old ones", async () => {
    let url = await start();
    const rotated = (await admin(url, "/api/admin/keys/rotate", { kind: "api" })).json.key;
    await admin(url, "/api/admin/keys/retire", { kind: "api" });
    // The Secret still holds the retired key: the restart must not revive it.
    url = await restart();
    expect(await onboard(url, API_KEY)).to.equal(403);
    expect(await onboard(url, rotated)).to.equal(200);
    // The operator puts a new key in the Secret: it works, the rotated one for 1.5 s more.
    const secretKey = "secret-manager-key-0123456789";
    url = await restart({ apiKey: secretKey, adminKey: ADMIN_KEY }, 1500);
    expect(await onboard(url, secretKey)).to.equal(200);
    expect(await onboard(url, rotated)).to.equal(200);
    await new Promise((res) => setTimeout(res, 1600));
    expect(await onboard(url, rotated)).to.equal(403);
    expect(await onboard(url, secretKey)).to.equal(200);
  });

  it("bad input gets a clear 4xx: unknown kind, overlap not a whole number or too long, no or wrong admin key", async () => {
    const url = await start();
    const bad = async (body: unknown, status: number, msg: RegExp) => {
      const r = await admin(url, "/api/admin/keys/rotate", body);
      expect(r.status, JSON.stringify(body)).to.equal(status);
      expect(r.json.message).to.match(msg);
    };
    await bad({ kind: "root" }, 400, /kind must be "api" or "admin"/);
    await bad({ kind: "api", overlapSeconds: "soon" }, 400, /whole number/);
    await bad({ kind: "api", overlapSeconds: 1.5 }, 400, /whole number/);
    await bad({ kind: "api", overlapSeconds: 10 ** 9 }, 400, /overlap must be/);
    expect((await api(url, "/api/admin/keys/rotate", { key: null, body: {} })).status).to.equal(
      401,
    );
    expect((await admin(url, "/api/admin/keys/rotate", {}, API_KEY)).status).to.equal(401);
  });

  it("the roll-out API on an orchestrator without images: status says unsupported, start is refused with the reason", async () => {
    const url = await start();
    const st = await admin(url, "/api/admin/rollout");
    expect(st.json).to.deep.equal({ supported: false, orchestrator: "local" });
    const r = await admin(url, "/api/admin/rollout/start", {});
    expect(r.status).to.equal(409);
    expect(r.json.message).to.match(/local orchestrator runs no images/);
    expect((await admin(url, "/api/admin/rollout/explode", {})).status).to.equal(404);
  });
});
