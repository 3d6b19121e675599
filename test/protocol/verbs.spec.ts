import { expect } from "chai";
import { InvalidSyntaxError, normalizeCommand, parseCommand, verbs } from "@atplatform/protocol";

function parse(line: string) {
  return parseCommand(normalizeCommand(line));
}

describe("protocol: verb grammars", () => {
  it("update: metadata in any order, scope, owner, value with spaces", () => {
    const p = parse(
      "update:ttl:600000:isEncrypted:True:dataSignature:ab+/=:@bob:phone@alice a b  c",
    );
    expect(p?.verb).to.equal("update");
    expect(p?.params).to.deep.include({
      scope: "@bob",
      key: "phone",
      owner: "@alice",
      value: "a b  c",
    });
    expect(p?.params.metadata).to.deep.equal({
      ttl: 600000,
      isEncrypted: true,
      dataSignature: "ab+/=",
    });
    const again = parse("update:isEncrypted:true:ttl:5:x@alice v");
    expect(again?.params.metadata).to.deep.equal({ isEncrypted: true, ttl: 5 });
  });

  it("update keeps the inner spaces of the value and accepts the PKAM key", () => {
    expect(parse("update:public:twitterid@alice  bob-twitter")?.params.value).to.equal(
      " bob-twitter",
    );
    expect(parse("update:privatekey:at_pkam_publickey MIIB")?.params).to.deep.include({
      key: "privatekey:at_pkam_publickey",
      value: "MIIB",
    });
  });

  for (const bad of [
    "update:public:k@alice",
    "update:public:country@@alice USA",
    "update:public:@alice:invalid-key@alice v",
    "lokup:x@alice",
    "plookup:x@alice@@@",
    "plookup:mobile@alice@bob",
    "deete:phone@alice",
    "delete:privatekey:at_pkam_publickey",
    "scan@",
    "stats:-1",
    "config:block:add:",
    "config:block:add:@@kevin",
    "config:block:list",
    "sync:.buzz@",
    "sync .buzz@",
    "notify:update:messageType:notifier:system:@bob:k@alice:v",
    "notify:messageType:key:update:@bob:k@alice:v",
    "notify:ttlnn:100:@bob:k@alice:v",
    "notify:ttln:@bob:k@alice:v",
    "notify:ttr:100:ttln:100:@bob:k@alice:v",
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      let threw: unknown;
      let parsed: unknown;
      try {
        parsed = parse(bad);
      } catch (err) {
        threw = err;
      }
      // Either no verb matched (the server's AT0003 "invalid command") or its grammar failed.
      if (threw === undefined) expect(parsed).to.equal(undefined);
      else expect(threw).to.be.instanceOf(InvalidSyntaxError);
    });
  }

  it("llookup, lookup, plookup and delete variants", () => {
    expect(parse("llookup:all:@bob:phone@alice")?.params).to.deep.include({
      op: "all",
      scope: "@bob",
      key: "phone",
      owner: "@alice",
      cached: false,
    });
    expect(parse("llookup:cached:public:x@bob")?.params).to.deep.include({
      cached: true,
      scope: "public",
    });
    expect(parse("lookup:all:a@b.c@alice")?.params).to.deep.include({
      op: "all",
      key: "a@b.c",
      owner: "@alice",
    });
    expect(parse("plookup:bypassCache:true:all:publickey@bob")?.params).to.deep.include({
      bypassCache: "true",
      op: "all",
      key: "publickey",
    });
    expect(parse("delete:privatekey:at_secret")?.params).to.deep.include({
      key: "privatekey:at_secret",
    });
    expect(parse("delete:priority:high:cached:@alice:k@bob")?.params).to.deep.include({
      priority: "high",
      cached: true,
      scope: "@alice",
    });
  });

  it("from, pkam (with and without algorithms), scan, monitor, info", () => {
    expect(parse("FROM:@ALICE")?.params).to.deep.include({ atSign: "@ALICE" });
    expect(parse('from:alice:clientConfig:{"version":"3.0.57"}')?.params).to.deep.include({
      atSign: "alice",
      clientConfig: '{"version":"3.0.57"}',
    });
    expect(parse("pkam:signingAlgo:rsa2048:hashingAlgo:sha512:c2ln")?.params).to.deep.include({
      signingAlgo: "rsa2048",
      hashingAlgo: "sha512",
      signature: "c2ln",
    });
    expect(parse("pkam:signingAlgo:rsa2047:hashingAlgo:sha256:c2ln")?.params.signature).to.equal(
      "signingAlgo:rsa2047:hashingAlgo:sha256:c2ln",
    );
    expect(parse("scan:showHidden:true .*wavi")?.params).to.deep.include({
      showHidden: "true",
      regex: ".*wavi",
    });
    expect(parse("scan Foo")?.params).to.deep.include({ regex: "foo" });
    expect(parse("monitor:0 .*")?.params).to.deep.include({ epoch: "0", regex: ".*" });
    expect(parse("info:brief")?.params).to.deep.include({ brief: true });
  });

  it("notify: the SDK forms, including at_c's message_type", () => {
    const p = parse(
      "notify:id:abc-1:update:isEncrypted:true:ivNonce:M+eMa0YUAcmeRVosCpyqpQ==:@bob:note.ns@alice:Q1c=",
    );
    expect(p?.params).to.deep.include({
      id: "abc-1",
      operation: "update",
      to: "@bob",
      key: "note.ns",
      from: "@alice",
      value: "Q1c=",
    });
    expect(parse("notify:update:message_type:text:@bob:Hello there!")?.params).to.deep.include({
      messageType: "text",
      key: "Hello there!",
    });
  });

  it("the client builds lines with the same grammar objects", () => {
    const line = verbs.update.format({
      scope: "@bob",
      key: "phone",
      owner: "@alice",
      value: "x y",
      metadata: { ttr: -1, ccd: true, isEncrypted: true },
    });
    expect(line).to.equal("update:ttr:-1:ccd:true:isEncrypted:true:@bob:phone@alice x y");
    expect(verbs.update.parse(line).value).to.equal("x y");
    expect(verbs.llookup.format({ op: "all", key: "k", owner: "@alice" })).to.equal(
      "llookup:all:k@alice",
    );
    expect(verbs.pkam.format({ signature: "c2ln" })).to.equal("pkam:c2ln");
    expect(verbs.scan.format({ showHidden: "true" })).to.equal("scan:showHidden:true");
    expect(() => verbs.update.format({ key: "k", value: "" } as never)).to.throw(
      InvalidSyntaxError,
    );
  });
});
