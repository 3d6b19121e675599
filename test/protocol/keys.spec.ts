import { expect } from "chai";
import { buildKey, isProtectedKey, isSyncedKey, parseKey } from "@atplatform/protocol";

describe("protocol: key model", () => {
  const cases: Array<[string, string]> = [
    ["public:location@alice", "publicKey"],
    ["phone.wavi@alice", "selfKey"],
    ["@alice:phone@alice", "selfKey"],
    ["@bob:phone@alice", "sharedKey"],
    ["@🦄:emoji.name@alice", "sharedKey"],
    ["cached:@alice:phone@bob", "cachedSharedKey"],
    ["cached:public:x@bob", "cachedPublicKey"],
    ["private:x@alice", "privateKey"],
    ["local:x@alice", "localKey"],
    ["privatekey:at_secret", "reservedKey"],
    ["public:publickey@alice", "reservedKey"],
    ["shared_key.bob@alice", "reservedKey"],
    ["@bob:shared_key@alice", "reservedKey"],
    ["public:country,current@alice", "invalidKey"],
    ["nokey", "invalidKey"],
  ];
  for (const [k, type] of cases) {
    it(`${k} is ${type}`, () => expect(parseKey(k).type).to.equal(type));
  }

  it("normalises case and spaces, finds namespace and hidden", () => {
    const k = parseKey("TtlKEY-x.Me@Alice");
    expect(k.text).to.equal("ttlkey-x.me@alice");
    expect(k.namespace).to.equal("me");
    expect(parseKey("_hidden@alice").hidden).to.equal(true);
    expect(buildKey({ scope: "@Bob", entity: "Phone", owner: "alice" })).to.equal(
      "@bob:phone@alice",
    );
  });

  it("knows protected and non-synced keys", () => {
    expect(isProtectedKey("public:signing_publickey@alice", "@alice")).to.equal(true);
    expect(isProtectedKey("@alice:signing_privatekey@alice", "@alice")).to.equal(true);
    expect(isProtectedKey("public:x@alice", "@alice")).to.equal(false);
    expect(isSyncedKey("privatekey:at_pkam_publickey")).to.equal(false);
    expect(isSyncedKey("public:_hidden@alice")).to.equal(false);
    expect(isSyncedKey("public:__manage@alice")).to.equal(true);
    expect(isSyncedKey("@bob:x@alice")).to.equal(true);
  });
});
