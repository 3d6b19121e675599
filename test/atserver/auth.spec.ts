import { expect } from "chai";
import { generateKeyPairSync } from "node:crypto";
import {
  AtClient,
  AuthFailedError,
  cramDigest,
  ecPublicKeyHex,
  generateRsaKeyPair,
  signPkam,
} from "@atplatform/protocol";
import { SECRET, startServer, type Started } from "./harness";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

describe("atserver: from / cram / pkam (Part B §3.1-3.3, §5, §9)", () => {
  let s: Started;
  const pkamKeys = generateRsaKeyPair();
  before(async () => {
    s = await startServer();
    const owner = await s.owner();
    expect(
      await owner.execute(`update:privatekey:at_pkam_publickey ${pkamKeys.publicKey}`),
    ).to.equal("-1");
  });
  after(async () => s.stop());

  it("from:@alice → data:_<uuid>@alice:<uuid>; from:alice and FROM:@ALICE the same", async () => {
    const c = await s.client();
    const re = new RegExp(`^_${UUID}@alice:${UUID}$`);
    const a = await c.from("@alice");
    expect(a).to.match(re);
    expect(await c.execute("from:alice")).to.match(re);
    expect(await c.execute("FROM:@ALICE")).to.match(re);
    // Same session id, fresh challenge each time.
    expect(a.split(":")[0]).to.equal((await c.from()).split(":")[0]);
    expect(await c.from()).to.not.equal(await c.from());
  });

  it("CRAM digest sha512(secret+challenge) → data:success and prompt @alice@", async () => {
    const c = await s.client();
    const ch = await c.from();
    expect(await c.send(`cram:${cramDigest(SECRET, ch)}`)).to.equal("data:success");
    expect(c.prompt).to.equal("@alice@");
  });

  it("a wrong CRAM digest is an AT0401 error line and the connection stays open", async () => {
    const c = await s.client();
    await c.from();
    const err = await c.execute(`cram:${cramDigest("wrong", "x")}`).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AuthFailedError);
    expect(c.prompt).to.equal("@");
    expect(await c.execute("info:brief")).to.include("version");
  });

  it("pkam:<sig> (legacy) and pkam:signingAlgo:rsa2048:hashingAlgo:sha256:<sig> → data:success", async () => {
    const c = await s.client();
    let ch = await c.from();
    expect(await c.send(`pkam:${signPkam(pkamKeys.privateKey, ch)}`)).to.equal("data:success");
    ch = await c.from();
    expect(
      await c.send(
        `pkam:signingAlgo:rsa2048:hashingAlgo:sha256:${signPkam(pkamKeys.privateKey, ch)}`,
      ),
    ).to.equal("data:success");
    ch = await c.from();
    const s512 = signPkam(pkamKeys.privateKey, ch, { hashingAlgo: "sha512" });
    expect(await c.send(`pkam:signingAlgo:rsa2048:hashingAlgo:sha512:${s512}`)).to.equal(
      "data:success",
    );
  });

  it("pkam:signingAlgo:rsa2047:… → an error text containing Exception", async () => {
    const c = await s.client();
    const ch = await c.from();
    const line = await c.send(
      `pkam:signingAlgo:rsa2047:hashingAlgo:sha256:${signPkam(pkamKeys.privateKey, ch)}`,
    );
    expect(line).to.match(/^error:AT0401-Exception/);
  });

  it("repeating from + pkam 10× on one connection keeps working", async () => {
    const c = await s.client();
    for (let i = 0; i < 10; i++) await c.pkam(pkamKeys.privateKey);
    expect(c.prompt).to.equal("@alice@");
  });

  it("a signature by another key, or a replayed challenge, fails with AT0401", async () => {
    const c = await s.client();
    const ch = await c.from();
    const other = generateRsaKeyPair();
    expect(await c.send(`pkam:${signPkam(other.privateKey, ch)}`)).to.match(/^error:AT0401-/);
    // The challenge was used up: the right signature over it no longer works.
    expect(await c.send(`pkam:${signPkam(pkamKeys.privateKey, ch)}`)).to.match(/^error:AT0401-/);
    expect(await c.send(`pkam:${signPkam(pkamKeys.privateKey, "no challenge")}`)).to.match(
      /^error:AT0401-/,
    );
  });

  it("pkam with an enrollment id is AT0028 in the colon format (no enrollments exist)", async () => {
    const c = await s.client();
    const ch = await c.from();
    const line = await c.send(`pkam:enrollmentId:abc-123:${signPkam(pkamKeys.privateKey, ch)}`);
    expect(line).to.equal("error:AT0028:enrollment_id: abc-123 is expired or invalid");
  });

  it("ECC: update the PKAM key to an EC point (data:-1), ecc_secp256r1 pkam succeeds; CRAM still works", async () => {
    const ecc = await startServer();
    try {
      const owner = await ecc.owner();
      const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
      expect(
        await owner.execute(`update:privatekey:at_pkam_publickey ${ecPublicKeyHex(ec.publicKey)}`),
      ).to.equal("-1");
      const c = await ecc.client();
      const ch = await c.from();
      const sig = signPkam(ec.privateKey, ch, { signingAlgo: "ecc_secp256r1" });
      expect(await c.send(`pkam:signingAlgo:ecc_secp256r1:hashingAlgo:sha256:${sig}`)).to.equal(
        "data:success",
      );
      const again = await ecc.client();
      await again.cram(SECRET);
      expect(again.prompt).to.equal("@alice@");
    } finally {
      await ecc.stop();
    }
  });

  it("delete:privatekey:at_secret (data:-1) disables CRAM for good, PKAM keeps working", async () => {
    const d = await startServer();
    try {
      const owner = await d.owner();
      await owner.execute(`update:privatekey:at_pkam_publickey ${pkamKeys.publicKey}`);
      expect(await owner.execute("delete:privatekey:at_secret")).to.equal("-1");
      const c = await d.client();
      const err = await c.cram(SECRET).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AuthFailedError);
      await c.pkam(pkamKeys.privateKey);
      expect(c.prompt).to.equal("@alice@");
      // The secret is not readable or listed anywhere.
      expect(await c.execute("scan:showHidden:true")).to.not.include("at_secret");
    } finally {
      await d.stop();
    }
  });

  it("from: of another atSign answers a proof challenge; pol without federation fails with AT0401", async () => {
    const c = await s.client();
    const proof = await c.execute("from:@bob");
    // The challenge is bound to this server (the reference's `pol1.` token): {"v","n"}.
    const m = new RegExp(`^proof:_${UUID}@bob:pol1\\.([A-Za-z0-9_-]+=*)$`).exec(proof);
    expect(m, proof).to.not.equal(null);
    const bound = JSON.parse(Buffer.from(m![1]!, "base64url").toString("utf8"));
    expect(bound.v).to.equal("@alice");
    expect(bound.n).to.match(new RegExp(`^${UUID}$`));
    expect(await c.send("pol")).to.match(/^error:AT0401-Exception: Pol Authentication Failed/);
    const fresh = await AtClient.connect({ host: "127.0.0.1", port: s.port, ca: s.tls.ca });
    try {
      // pol without a from: of another atSign
      expect(await fresh.send("pol")).to.match(/^error:AT0011-/);
    } finally {
      fresh.destroy();
    }
  });
});
