// `atplatform admin rollout …` and the key rotation commands as a user runs them (child
// processes, a temp HOME) against a real local platform of their own: rotating keys changes
// what the registrar accepts, so these do not share cli.spec.ts's platform.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { LocalPlatform, localConfigFromEnv } from "@atplatform/local";
import { setRegistrarLogLevel } from "@atplatform/registrar";
import { runCli, userHome, type UserHome } from "./user-home";

describe("atplatform admin rollout and key rotation (temp HOME, a local platform)", function () {
  this.timeout(90_000);
  let tmp: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  let platformEnv: Record<string, string>;
  let platform: LocalPlatform;
  let url: string;

  let home: UserHome;
  const cli = (args: string[], e: NodeJS.ProcessEnv = env) => runCli(home, args, e);
  /** What an onboarding app sees with `key`: 200 accepted, 403 refused. */
  const onboard = async (key: string) =>
    (await fetch(`${url}/api/app/v2/get-free-atsign`, { headers: { Authorization: key } })).status;
  const fileKey = (name: string) => readFileSync(join(data, name), "utf8").trim();

  before(async () => {
    setRegistrarLogLevel("error");
    home = await userHome("atp-cli-ops-", 10);
    ({ tmp, data, env, platformEnv } = home);
    platform = new LocalPlatform(localConfigFromEnv(platformEnv), { print: () => {} });
    await platform.start();
    url = JSON.parse(readFileSync(join(data, "platform.json"), "utf8")).registrarUrl;
  });
  after(async () => {
    await platform?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("admin rollout on the local platform: status says unsupported; start is refused with the reason; a bad action is a usage error", async () => {
    const st = await cli(["admin", "rollout"]);
    expect(st.code, st.err).to.equal(0);
    expect(st.out).to.contain("image roll-outs: not supported by the local orchestrator");
    expect((await cli(["admin", "rollout", "status"])).out).to.equal(st.out);
    const start = await cli(["admin", "rollout", "start"]);
    expect(start.code).to.equal(1);
    expect(start.err).to.contain("registrar answered 409: the local orchestrator runs no images");
    const bad = await cli(["admin", "rollout", "explode"]);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.match(/unknown rollout action explode[\s\S]*usage: atplatform admin/);
  });

  it("rotate-api-key on the local platform: the new key replaces <home>/api-key (0600), the old one works until retire-api-key; register uses the new one", async () => {
    const old = fileKey("api-key");
    const r = await cli(["admin", "rotate-api-key", "--overlap", "3600"]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/new api key \d+ written to .*api-key\nold api keys valid until \S+Z/);
    const fresh = fileKey("api-key");
    expect(fresh).not.to.equal(old);
    expect(r.out + r.err).not.to.contain(fresh);
    expect(statSync(join(data, "api-key")).mode & 0o777).to.equal(0o600);
    expect(await onboard(fresh)).to.equal(200);
    expect(await onboard(old)).to.equal(200);
    const reg = await cli(["register", "@opsalice", "--no-onboard"]);
    expect(reg.code, reg.err).to.equal(0);
    const list = await cli(["admin", "keys"]);
    expect(list.out).to.match(/api\s+config\s+valid\s+created \S+\s+until/);
    expect(list.out).not.to.contain(fresh);
    const retire = await cli(["admin", "retire-api-key"]);
    expect(retire.out).to.contain("retired 1 old api key(s)");
    expect(await onboard(old)).to.equal(403);
    expect(await onboard(fresh)).to.equal(200);
  });

  it("rotate-api-key --kind admin: the CLI keeps working (its key file is updated); the old admin key until retired; a platform restart keeps the rotated keys", async () => {
    const oldAdmin = join(tmp, "old-admin-key");
    writeFileSync(oldAdmin, readFileSync(join(data, "admin-key")));
    const r = await cli(["admin", "rotate-api-key", "--kind", "admin", "--overlap", "600"]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain(`written to ${join(data, "admin-key")}`);
    expect((await cli(["admin", "list"])).code).to.equal(0);
    const viaOld = ["admin", "list", "--registrar", url, "--admin-key-file", oldAdmin];
    expect((await cli(viaOld)).code).to.equal(0);
    expect((await cli(["admin", "retire-api-key", "--kind", "admin"])).code).to.equal(0);
    const refused = await cli(viaOld);
    expect(refused.code).to.equal(1);
    expect(refused.err).to.contain("registrar answered 401");
    // The platform reads its key files again on start: the rotated keys are what it is given.
    await platform.stop();
    platform = new LocalPlatform(localConfigFromEnv(platformEnv), { print: () => {} });
    await platform.start();
    url = JSON.parse(readFileSync(join(data, "platform.json"), "utf8")).registrarUrl;
    expect((await cli(["admin", "list"])).code).to.equal(0);
    expect(await onboard(fileKey("api-key"))).to.equal(200);
    expect((await cli(viaOld)).code).to.equal(1);
  });

  it("against a registrar by URL: the key alone on stdout (notes on stderr), or --out FILE (0600, never over a file without --force); bad flags exit 2", async () => {
    const keyFile = join(tmp, "admin-key-copy");
    writeFileSync(keyFile, readFileSync(join(data, "admin-key")));
    const remote = { ...env, ATPLATFORM_HOME: join(tmp, "nowhere") };
    const target = ["--registrar", url, "--admin-key-file", keyFile];
    const before = fileKey("api-key");
    const r = await cli(["admin", "rotate-api-key", ...target], remote);
    expect(r.code, r.err).to.equal(0);
    const printed = r.out.trim();
    expect(printed).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(r.err).to.match(/new api key \d+ \(shown once\); old api keys valid until/);
    expect(await onboard(printed)).to.equal(200);
    // Not the local platform: its key file is left alone.
    expect(fileKey("api-key")).to.equal(before);

    const out = join(tmp, "new-api-key");
    const w = await cli(["admin", "rotate-api-key", ...target, "--out", out], remote);
    expect(w.code, w.err).to.equal(0);
    expect(w.out).not.to.contain(readFileSync(out, "utf8").trim());
    expect(statSync(out).mode & 0o777).to.equal(0o600);
    expect(await onboard(readFileSync(out, "utf8").trim())).to.equal(200);
    const count = (await cli(["admin", "keys", ...target], remote)).out.split("\n").length;
    const again = await cli(["admin", "rotate-api-key", ...target, "--out", out], remote);
    expect(again.code).to.equal(2);
    expect(again.err).to.contain("exists: add --force");
    // Refused before asking the registrar: no key was made and lost.
    expect((await cli(["admin", "keys", ...target], remote)).out.split("\n").length).to.equal(
      count,
    );
    for (const bad of [
      ["--kind", "root"],
      ["--overlap", "soon"],
      ["--overlap", String(31 * 86400)],
    ]) {
      const b = await cli(["admin", "rotate-api-key", ...target, ...bad], remote);
      expect(b.code, bad.join(" ")).to.equal(2);
    }
    expect(existsSync(join(tmp, "nowhere"))).to.equal(false);
  });
});
