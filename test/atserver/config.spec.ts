import { expect } from "chai";
import {
  ConfigError,
  DEFAULTS,
  envName,
  parseArgs,
  resolveConfig,
  SETTINGS,
} from "@atplatform/atserver";

const REQUIRED = { atSign: "@alice", port: "6464", cert: "c.pem", key: "k.pem", storage: "/tmp/s" };

function sample(kind: string, flag: string): string {
  if (flag === "at-sign") return "@bob";
  if (flag === "root") return "root.example:64";
  if (kind === "int") return "70"; // above every setting's lower bound
  if (kind === "bool") return "true";
  if (kind === "level") return "debug";
  return `/x/${flag}`;
}

/** A different valid value, to show the flag wins over the environment. */
function other(kind: string, flag: string): string {
  if (flag === "at-sign") return "@carol";
  if (flag === "root") return "other.example:65";
  if (kind === "int") return "90";
  if (kind === "bool") return "false";
  if (kind === "level") return "warn";
  return `/y/${flag}`;
}

describe("atserver: configuration", () => {
  it("every setting is honoured from its ATSERVER_* variable and from its flag; flags win", () => {
    for (const s of SETTINGS) {
      const v = sample(s.kind, s.flag);
      const pair: Record<string, string> = {};
      if (s.key === "clientCert" || s.key === "clientKey") {
        pair[envName(s.key === "clientCert" ? "client-key" : "client-cert")] = "/x/pair";
      }
      const env = { ...pair, [envName(s.flag)]: v };
      const base = { ...REQUIRED } as Record<string, string>;
      delete base[s.key];
      const cfg = resolveConfig(base, env) as unknown as Record<string, unknown>;
      const expected = s.kind === "int" ? 70 : s.kind === "bool" ? true : v;
      expect(cfg[s.key], envName(s.flag)).to.equal(expected);
      if (!s.envOnly) {
        const both = resolveConfig(
          { ...base, [s.key]: v },
          { ...pair, [envName(s.flag)]: other(s.kind, s.flag) },
        ) as unknown as Record<string, unknown>;
        expect(both[s.key], `--${s.flag}`).to.equal(expected);
      }
    }
  });

  it("reference environment names are accepted (minutes/seconds scaled to ms)", () => {
    const cfg = resolveConfig(REQUIRED, {
      inbound_max_limit: "50",
      authenticated_inbound_idletime_millis: "1000",
      expiringRunFreqMins: "2",
      statsNotificationJobTimeInterval: "-1",
      rootServerUrl: "vip.ve.atsign.zone",
      rootServerPort: "64",
      testingMode: "true",
    });
    expect(cfg).to.include({
      inboundMaxLimit: 50,
      authIdleMs: 1000,
      expirySweepMs: 120_000,
      statsNotificationMs: -1000,
      root: "vip.ve.atsign.zone:64",
      testingMode: true,
    });
    expect(resolveConfig(REQUIRED, {}).inboundMaxLimit).to.equal(DEFAULTS.inboundMaxLimit);
  });

  it("ATSERVER_ATSIGN (the name the cloud stack sets) names the atSign too", () => {
    const { atSign: _omit, ...rest } = REQUIRED;
    expect(resolveConfig(rest, { ATSERVER_ATSIGN: "@stack" }).atSign).to.equal("@stack");
    expect(
      resolveConfig(rest, { ATSERVER_ATSIGN: "@stack", ATSERVER_AT_SIGN: "@ours" }).atSign,
    ).to.equal("@ours");
  });

  it("flags parse in all forms; bad input is a ConfigError; the secret never comes from argv", () => {
    expect(
      parseArgs(["-a", "@x", "--port=1", "--testing-mode", "--storage", "/s"]).values,
    ).to.deep.equal({ atSign: "@x", port: "1", testingMode: "true", storage: "/s" });
    expect(() => parseArgs(["--cram-secret", "s"])).to.throw(ConfigError, /environment only/);
    expect(() => parseArgs(["--nope"])).to.throw(ConfigError);
    expect(() => resolveConfig({ ...REQUIRED, port: "x" }, {})).to.throw(ConfigError);
    expect(() => resolveConfig({ ...REQUIRED, atSign: "@a:b" }, {})).to.throw(ConfigError);
    expect(() => resolveConfig({ port: "1" }, {})).to.throw(ConfigError, /missing required/);
    expect(resolveConfig(REQUIRED, {}).maxAuthFailures).to.equal(3);
    expect(() => resolveConfig({ ...REQUIRED, maxAuthFailures: "0" }, {})).to.throw(
      ConfigError,
      /--max-auth-failures must be >= 1/,
    );
  });

  it("memory and connection limits (issue 11): positive, line limits at most the reference's 10 240 000", () => {
    const cfg = resolveConfig(REQUIRED, {});
    expect(cfg.unauthMaxCommandBytes).to.equal(65_536);
    expect(cfg.notifyQuotaBytes).to.equal(8_388_608);
    for (const [flag, v] of [
      ["unauthMaxCommandBytes", "0"],
      ["peerMaxCommandBytes", "10240001"],
      ["inputBudgetBytes", "0"],
      ["maxOutputBytes", "-1"],
      ["unauthPerIp", "0"],
      ["ownerReservedConnections", "-1"],
      ["notifyPeerQuotaBytes", "0"],
    ] as const)
      expect(() => resolveConfig({ ...REQUIRED, [flag]: v }, {}), flag).to.throw(ConfigError);
    // A reserve above a small --inbound-max is allowed (the pool keeps one non-owner slot).
    expect(
      resolveConfig({ ...REQUIRED, inboundMaxLimit: "7" }, {}).ownerReservedConnections,
    ).to.equal(10);
  });
});
