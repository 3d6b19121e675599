// Texts and behaviours of the reference atServer that SDKs and apps match on (issue 14 A),
// each pinned on the wire: the exact line a real TLS client receives.
import { expect } from "chai";
import { AtClient, generateRsaKeyPair, signPkam } from "@atplatform/protocol";
import { startServer, type Started } from "./harness";

const apkam = generateRsaKeyPair();

function enrollRequest(fields: Record<string, unknown>): string {
  return `enroll:request:${JSON.stringify(fields)}`;
}

const AUTH_PREFIX = {
  AT0003: "error:AT0003-Invalid syntax : ",
  AT0011: "error:AT0011-Internal server exception : ",
  AT0015: "error:AT0015-key not found : ",
  AT0016: "error:AT0016-Invalid key : ",
};

describe("atserver: the reference server's wire texts and behaviours (issue 14 A)", function () {
  this.timeout(20_000);
  let s: Started;
  let cram: AtClient;
  before(async () => {
    s = await startServer({ testingMode: true });
    cram = await s.owner();
  });
  after(async () => s.stop());

  /** A CRAM connection enrolled by itself (the reference tests' usual start), and its id. */
  async function cramEnrolled(
    device: string,
  ): Promise<{ c: AtClient; id: string; status: string }> {
    const c = await s.owner();
    const r = JSON.parse(
      await c.execute(
        enrollRequest({
          appName: "wavi",
          deviceName: device,
          namespaces: { wavi: "rw" },
          apkamPublicKey: apkam.publicKey,
        }),
      ),
    ) as { enrollmentId: string; status: string };
    return { c, id: r.enrollmentId, status: r.status };
  }

  describe("A1: enroll:request on a CRAM connection", () => {
    it("without encryptedDefaultEncryptionPrivateKey / encryptedDefaultSelfEncryptionKey is approved at once; the keys read back as null", async () => {
      const { c, id, status } = await cramEnrolled("nokeys");
      expect(status).to.equal("approved");
      expect(
        await c.send(`keys:get:keyName:${id}.default_enc_private_key.__manage@alice`),
      ).to.equal('data:{"value":null}');
      // The enrollment works: its APKAM key logs in.
      const a = await s.client();
      const challenge = await a.from();
      expect(
        await a.send(`pkam:enrollmentId:${id}:${signPkam(apkam.privateKey, challenge)}`),
      ).to.equal("data:success");
    });
  });

  describe("A2: keys verb names are case-insensitive", () => {
    it("keys:get / keys:delete find a key put with mixed case by the same mixed-case name", async () => {
      const { c } = await cramEnrolled("keyscase");
      expect(
        await c.send(
          "keys:put:private:namespace:__global:appName:wavi:deviceName:pixel:keyType:aes:encryptionKeyName:myAESkey:keyName:myPrivateKey ENC",
        ),
      ).to.equal("data:-1");
      const name = "private:wavi.pixel.myPrivateKey.__private_keys.__global@alice";
      expect(JSON.parse((await c.execute(`keys:get:keyName:${name}`)) as string)).to.include({
        value: "ENC",
        keyType: "aes",
        encryptionKeyName: "myAESkey",
      });
      expect(await c.send(`keys:delete:keyName:${name}`)).to.equal("data:-1");
      expect(await c.send(`keys:get:keyName:${name}`)).to.equal(
        `${AUTH_PREFIX.AT0015}key ${name} not found in keystore`,
      );
    });

    it("a record keeps every field, null when not given (the reference's JSON)", async () => {
      const { c, id } = await cramEnrolled("keysnull");
      await c.execute("keys:put:public:namespace:__global:keyName:plain VALUE");
      expect(await c.send("keys:get:keyName:public:plain.__public_keys.__global@alice")).to.equal(
        `data:{"value":"VALUE","keyType":null,"enrollmentId":"${id}","encryptionKeyName":null}`,
      );
    });
  });

  describe("A3: notify without authentication", () => {
    it("answers AT0401 Notify command cannot be executed without authentication", async () => {
      const anon = await s.client();
      expect(await anon.send("notify:update:@bob:phone@alice:1234")).to.equal(
        "error:AT0401-Exception: Notify command cannot be executed without authentication",
      );
      // Other verbs keep the generic text.
      expect(await anon.send("llookup:phone@alice")).to.equal(
        "error:AT0401-Exception: Command cannot be executed without auth",
      );
    });

    it("a verb that needs authentication refuses before reading its syntax; notify reads it first", async () => {
      const anon = await s.client();
      expect(await anon.send("update:public:no-value@alice")).to.equal(
        "error:AT0401-Exception: Command cannot be executed without auth",
      );
      expect(await anon.send("notify:")).to.equal(
        "error:AT0003-Exception: Invalid syntax. e.g notify:@colin:key@kevin",
      );
    });
  });

  describe("A4: enroll parameters checked first, with the reference texts (AT0011)", () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [
        "request",
        { deviceName: "d", apkamPublicKey: "k" },
        "appName is mandatory for enroll:request",
      ],
      [
        "request",
        { appName: "a", apkamPublicKey: "k" },
        "deviceName is mandatory for enroll:request",
      ],
      [
        "request",
        { appName: "a", deviceName: "d" },
        "apkam public key is mandatory for enroll:request",
      ],
      [
        "request",
        {
          appName: "a",
          deviceName: "d",
          apkamPublicKey: "k",
          otp: "ABC123",
          namespaces: { a: "r" },
        },
        "encrypted apkam symmetric key is mandatory for new client enroll:request",
      ],
      [
        "request",
        {
          appName: "a",
          deviceName: "d",
          apkamPublicKey: "k",
          otp: "ABC123",
          encryptedAPKAMSymmetricKey: "e",
        },
        "At least one namespace must be specified for new client enroll:request",
      ],
      ["approve", {}, "enrollmentId is mandatory for enroll:approve"],
      [
        "approve",
        { enrollmentId: "x", encryptedDefaultSelfEncryptionKey: "s" },
        "encryptedDefaultEncryptionPrivateKey is mandatory for enroll:approve",
      ],
      [
        "approve",
        { enrollmentId: "x", encryptedDefaultEncryptionPrivateKey: "p" },
        "encryptedDefaultSelfEncryptionKey is mandatory for enroll:approve",
      ],
      ["deny", {}, "enrollmentId is mandatory for enroll:deny"],
      ["revoke", {}, "enrollmentId is mandatory for enroll:revoke"],
      ["unrevoke", {}, "enrollmentId is mandatory for enroll:unrevoke"],
      ["delete", {}, "enrollmentId is mandatory for enroll:delete"],
      ["fetch", {}, "enrollmentId is mandatory for enroll:fetch"],
    ];
    for (const [op, body, text] of cases) {
      it(`enroll:${op}:${JSON.stringify(body)} → AT0011 ${text}`, async () => {
        expect(await cram.send(`enroll:${op}:${JSON.stringify(body)}`)).to.equal(
          `${AUTH_PREFIX.AT0011}${text}`,
        );
      });
    }

    it("unauthenticated enroll:request without appName → AT0011 in the unauthenticated form", async () => {
      const anon = await s.client();
      expect(await anon.send(enrollRequest({ deviceName: "d", apkamPublicKey: "k" }))).to.equal(
        "error:AT0011-Exception: appName is mandatory for enroll:request",
      );
    });

    it("enroll:fetch / enroll:delete of an unknown id → AT0015 <enrollment key> does not exist in keystore", async () => {
      for (const op of ["fetch", "delete"]) {
        expect(await cram.send(`enroll:${op}:{"enrollmentId":"nope-2"}`)).to.equal(
          `${AUTH_PREFIX.AT0015}nope-2.new.enrollments.__manage@alice does not exist in keystore`,
        );
      }
      // approve/deny/revoke/unrevoke keep AT0028.
      expect(await cram.send('enroll:deny:{"enrollmentId":"nope-2"}')).to.equal(
        "error:AT0028:enrollment_id: nope-2 is expired or invalid",
      );
    });

    it("enroll:approve without parameters → AT0022 Enroll parameters not provided", async () => {
      expect(await cram.send("enroll:approve")).to.equal(
        "error:AT0022-Illegal arguments : Enroll parameters not provided",
      );
    });
  });

  describe("A5: error texts", () => {
    it("update with bad syntax → AT0003 with the reference usage example", async () => {
      expect(await cram.send("update:public:k@alice")).to.equal(
        `${AUTH_PREFIX.AT0003}Invalid syntax. e.g. update:@alice:location@bob San Francisco`,
      );
    });

    it("ttr below -1, negative ttl / ttb → AT0003 with the reference texts", async () => {
      expect(await cram.send("update:ttr:-2:public:k@alice v")).to.equal(
        `${AUTH_PREFIX.AT0003}Valid values for TTR are -1 and greater than or equal to 1`,
      );
      expect(await cram.send("update:ttl:-5:public:k@alice v")).to.equal(
        `${AUTH_PREFIX.AT0003}Valid value for TTL should be greater than or equal to 0`,
      );
      expect(await cram.send("update:ttb:-5:public:k@alice v")).to.equal(
        `${AUTH_PREFIX.AT0003}Valid value for TTB should be greater than or equal to 0`,
      );
    });

    it("update:meta of another atSign's key says Invalid update command, as update does", async () => {
      expect(await cram.send("update:meta:public:k@bob:ttl:100")).to.equal(
        `${AUTH_PREFIX.AT0016}Invalid update command - sharedBy atsign @bob should be same as current atsign @alice`,
      );
    });

    it("a key of 258 characters → AT0016 key length 258 is greater than max allowed 248 chars", async () => {
      const entity = "k".repeat(258 - "public:".length - "@alice".length);
      expect(await cram.send(`update:public:${entity}@alice v`)).to.equal(
        `${AUTH_PREFIX.AT0016}key length 258 is greater than max allowed 248 chars`,
      );
    });

    it("unrevoke of an approved enrollment → Cannot un-revoke … can be un-revoked", async () => {
      const { id } = await cramEnrolled("unrevoke");
      expect(await cram.send(`enroll:unrevoke:{"enrollmentId":"${id}"}`)).to.equal(
        `${AUTH_PREFIX.AT0011}Failed to unrevoke enrollment id: ${id}. Cannot un-revoke a approved enrollment. Only revoked enrollments can be un-revoked`,
      );
    });

    it("deny of an approved enrollment names the operation in the reference's words", async () => {
      const { id } = await cramEnrolled("deny");
      expect(await cram.send(`enroll:deny:{"enrollmentId":"${id}"}`)).to.equal(
        `${AUTH_PREFIX.AT0011}Failed to deny enrollment id: ${id}. Cannot deny a approved enrollment. Only pending enrollments can be denied`,
      );
    });

    // Multi-line usage texts arrive with their newlines escaped (one error = one line).
    const usages: Array<[string, string]> = [
      ["plookup:", "e.g plookup:location@bob"],
      ["delete:", "syntax delete:@<atkey> \\u000a e.g delete:phone@alice"],
      ["scan:nonsense", "scan"],
      ["stats:abc def", "stats:1,2,3"],
      ["llookup:", "e.g llookup:location@bob"],
      ["lookup:", "e.g lookup:location@bob"],
      ["update:meta:public:k", "update:meta:ttl:20000:ttb:20000:ttr:20000"],
      ["monitor:x", "e.g. monitor or monitor .wavi"],
      ["notify:", "e.g notify:@colin:key@kevin"],
      ["notify:all:", "e.g notify:all:@alice,@bob:key1@colin"],
      ["notify:list:a:b:c:d", "e.g notify:list [regular expression]"],
      ["notify:status:", "e.g notify:status:<notification-id>"],
      ["notify:fetch:", "e.g notify:fetch:<notification-id>"],
      ["notify:remove:", "e.g notify:remove:<notificationId>"],
      ["sync:from:x", "syntax sync:from:1:limit:10:.wavi"],
      ["noop:x", "noop:<durationInMillis>"],
      ["otp:", "otp:get or otp:validate:<otp>"],
      [
        "keys:nothing",
        "e.g. keys:put:public:keyName:encryptionPublicKey:namespace:__global:keyType:rsa2048:<public_key>",
      ],
    ];
    for (const [cmd, usage] of usages) {
      it(`${cmd} → AT0003 Invalid syntax. ${usage}`, async () => {
        expect(await cram.send(cmd)).to.equal(`${AUTH_PREFIX.AT0003}Invalid syntax. ${usage}`);
      });
    }

    it("from: of a blocked atSign → AT0013 Unable to connect (names no one)", async () => {
      await cram.execute("config:block:add:@eve");
      const eve = await s.client();
      expect(await eve.send("from:@eve")).to.equal("error:AT0013-Exception: Unable to connect");
    });

    it("notify:list dates: Invalid date format / ToDate cannot be less than FromDate (AT0022)", async () => {
      expect(await cram.send("notify:list:2024-13-45")).to.equal(
        "error:AT0022-Illegal arguments : Invalid date format",
      );
      expect(await cram.send("notify:list:2024-05-02:2024-05-01")).to.equal(
        "error:AT0022-Illegal arguments : ToDate cannot be less than FromDate",
      );
    });

    it("notify with strategy latest and no notifier → AT0003 For Strategy latest, notifier cannot be null", async () => {
      expect(await cram.send("notify:strategy:latest:@bob:k.wavi@alice:v")).to.equal(
        `${AUTH_PREFIX.AT0003}For Strategy latest, notifier cannot be null`,
      );
    });

    it("notify as another atSign → AT0009 <atSign> is not authorized to send notification as <me>", async () => {
      expect(await cram.send("notify:update:@bob:k.wavi@carol:v")).to.equal(
        "error:AT0009-UnAuthorized client in request : @carol is not authorized to send notification as @alice",
      );
    });

    it("an invalid regex → AT0003 Invalid regular expression. <regex> is not a valid regex", async () => {
      expect(await cram.send("scan (unclosed")).to.equal(
        `${AUTH_PREFIX.AT0003}Invalid regular expression. (unclosed is not a valid regex`,
      );
    });

    it("from: with bad syntax → the reference usage, unauthenticated form", async () => {
      const anon = await s.client();
      expect(await anon.send("from:")).to.equal(
        "error:AT0003-Exception: Invalid syntax. syntax from:@<atSign> \\u000a e.g from:@alice",
      );
    });

    it("otp:put without __manage → AT0011 Client not allowed to not store semi permanent pass code", async () => {
      // A narrow enrollment (no __manage) approved by the CRAM client.
      const code = await cram.execute("otp:get");
      const anon = await s.client();
      const pending = JSON.parse(
        await anon.execute(
          enrollRequest({
            appName: "narrow",
            deviceName: "d1",
            namespaces: { wavi: "r" },
            apkamPublicKey: apkam.publicKey,
            encryptedAPKAMSymmetricKey: "E",
            otp: code,
          }),
        ),
      ) as { enrollmentId: string };
      await cram.execute(
        `enroll:approve:${JSON.stringify({
          enrollmentId: pending.enrollmentId,
          encryptedDefaultEncryptionPrivateKey: "P",
          encryptedDefaultSelfEncryptionKey: "S",
        })}`,
      );
      const n = await s.client();
      const challenge = await n.from();
      expect(
        await n.send(
          `pkam:enrollmentId:${pending.enrollmentId}:${signPkam(apkam.privateKey, challenge)}`,
        ),
      ).to.equal("data:success");
      expect(await n.send("otp:put:ABC999")).to.equal(
        `${AUTH_PREFIX.AT0011}Client not allowed to not store semi permanent pass code`,
      );
    });
  });
});
