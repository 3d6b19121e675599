import { expect } from "chai";
import { AtClient, IllegalArgumentsError } from "@atplatform/protocol";
import { startServer, type Started } from "./harness";

async function failure(c: AtClient, cmd: string): Promise<Error & { code?: string }> {
  try {
    const r = await c.execute(cmd);
    throw new Error(`expected an error from ${cmd}, got data:${r}`);
  } catch (err) {
    return err as Error & { code?: string };
  }
}

describe("atserver: config / stats / sync / info / noop / batch (Part B §9)", () => {
  let s: Started;
  let c: AtClient;
  before(async () => {
    s = await startServer({ testingMode: true });
    c = await s.owner();
  });
  after(async () => s.stop());

  describe("config", () => {
    it('block add → success; show → ["@bob"]; remove → success; show → null', async () => {
      expect(await c.execute("config:block:add:@bob")).to.equal("success");
      expect(await c.execute("config:block:show")).to.equal('["@bob"]');
      expect(await c.execute("config:block:remove:@bob")).to.equal("success");
      expect(await c.execute("config:block:show")).to.equal("null");
    });

    it("config:block:add:, config:block:add:@@kevin, config:block:list → Invalid syntax", async () => {
      for (const cmd of ["config:block:add:", "config:block:add:@@kevin", "config:block:list"]) {
        const err = await failure(c, cmd);
        expect(err.code, cmd).to.equal("AT0003");
        expect(err.message).to.include("Invalid syntax");
      }
    });

    it("a blocked atSign's from: gets AT0013 and the connection closes", async () => {
      await c.execute("config:block:add:@mallory @eve");
      const m = await s.client();
      const line = await m.send("from:@mallory");
      expect(line).to.match(/^error:AT0013-/);
      await new Promise<void>((r) => m.once("close", r));
      await c.execute("config:block:remove:@mallory @eve");
    });

    it("testing mode: set → ok, reset → ok, print → 30; maxNotificationRetries=25; autoNotify", async () => {
      expect(await c.execute("config:set:maxNotificationRetries=25")).to.equal("ok");
      expect(await c.execute("config:print:maxNotificationRetries")).to.equal("25");
      expect(await c.execute("config:reset:maxNotificationRetries")).to.equal("ok");
      expect(await c.execute("config:print:maxNotificationRetries")).to.equal("30");
      expect(await c.execute("config:print:autoNotify")).to.match(/^(true|false)$/);
      expect(await c.execute("config:set:autoNotify=false")).to.equal("ok");
      expect((await failure(c, "config:print:noSuchSetting")).code).to.equal("AT0010");
    });

    it("the six reference settings nothing here reads are refused (AT0010), not accepted and ignored", async () => {
      for (const name of [
        "commitLogCompactionFrequencyMins",
        "accessLogCompactionFrequencyMins",
        "notificationKeyStoreCompactionFrequencyMins",
        "checkCertificateReload",
        "shouldReloadCertificates",
        "doCacheRefreshNow",
      ]) {
        for (const cmd of [
          `config:set:${name}=1`,
          `config:print:${name}`,
          `config:reset:${name}`,
        ]) {
          const err = await failure(c, cmd);
          expect(err.code, cmd).to.equal("AT0010");
          expect(err.message).to.include(`config name ${name} is not supported by this atServer`);
        }
      }
    });

    it("config:set with a value of the wrong type is refused and changes nothing", async () => {
      expect((await failure(c, "config:set:maxNotificationRetries=lots")).message).to.include(
        "needs a non-negative integer",
      );
      expect((await failure(c, "config:set:autoNotify=maybe")).message).to.include(
        "needs true or false",
      );
      expect(await c.execute("config:print:maxNotificationRetries")).to.equal("30");
    });

    it("without testing mode config:set is refused politely", async () => {
      const plain = await startServer();
      try {
        const o = await plain.owner();
        expect(await o.execute("config:set:autoNotify=false")).to.equal(
          "testing mode disabled by default",
        );
      } finally {
        await plain.stop();
      }
    });
  });

  describe("stats", () => {
    it("stats is not data:null; after update returning N, stats:3 has lastCommitID N; stats:-1 → Invalid syntax", async () => {
      expect(await c.execute("stats")).to.not.equal("null");
      const n = await c.execute("update:public:stat@alice v");
      expect(await c.send("stats:3")).to.include(
        `data: [{"id":"3","name":"lastCommitID","value":"${n}"`,
      );
      expect((await failure(c, "stats:-1")).message).to.include("Invalid syntax");
    });

    it("stats:1,7 lists inbound connections and the version", async () => {
      const parsed = JSON.parse((await c.execute("stats:1,7")).trim()) as Array<{
        id: string;
        value: unknown;
      }>;
      expect(parsed.map((x) => x.id)).to.deep.equal(["1", "7"]);
      expect(parsed[0]!.value).to.be.a("number").and.at.least(1);
    });
  });

  describe("sync:from", () => {
    it("5 updates of one key → it appears exactly once", async () => {
      const before = Number(JSON.parse((await c.execute("stats:3")).trim())[0].value);
      for (let i = 0; i < 5; i++) await c.execute(`update:public:sync.once@alice v${i}`);
      const entries = JSON.parse(await c.execute(`sync:from:${before - 1}:limit:5`)) as Array<{
        atKey: string;
      }>;
      expect(entries.filter((e) => e.atKey === "public:sync.once@alice")).to.have.length(1);
    });

    it("regex filter: sync:from:<c-1>:limit:5:.persona contains public:twitter.persona@alice", async () => {
      const before = Number(JSON.parse((await c.execute("stats:3")).trim())[0].value);
      await c.execute("update:public:twitter.persona@alice @me");
      await c.execute("update:public:other.ns@alice x");
      const text = await c.execute(`sync:from:${before - 1}:limit:5:.persona`);
      expect(text).to.include('"atKey":"public:twitter.persona@alice');
      expect(text).to.not.include("other.ns");
    });

    it("entry shape: stringified metadata, commitId, * and - operations; unsynced keys never appear", async () => {
      const before = Number(JSON.parse((await c.execute("stats:3")).trim())[0].value);
      await c.execute("update:ttl:60000:@bob:shape.k@alice v");
      await c.execute("update:public:gone.k@alice v");
      await c.execute("delete:public:gone.k@alice");
      const entries = JSON.parse(await c.execute(`sync:from:${before}:limit:10`)) as Array<
        Record<string, any>
      >;
      const shaped = entries.find((e) => e.atKey === "@bob:shape.k@alice")!;
      expect(shaped.operation).to.equal("*");
      expect(shaped.metadata.ttl).to.equal("60000");
      expect(shaped.metadata.version).to.equal("0");
      expect(shaped.metadata.isBinary).to.equal("false");
      expect(entries.find((e) => e.atKey === "public:gone.k@alice")).to.deep.include({
        value: null,
        metadata: null,
        operation: "-",
      });
      const all = await c.execute("sync:from:-1:limit:10");
      expect(all).to.not.include("privatekey:");
    });

    it("sync:.buzz@ and sync .buzz@ → Invalid syntax", async () => {
      for (const cmd of ["sync:.buzz@", "sync .buzz@"]) {
        expect((await failure(c, cmd)).message).to.include("Invalid syntax");
      }
    });
  });

  describe("info / noop / batch", () => {
    it("unauthenticated info → JSON with a non-empty version; info:brief has uptimeAsMillis", async () => {
      const anon = await s.client();
      const info = JSON.parse(await anon.execute("info"));
      expect(info.version).to.be.a("string").and.not.equal("");
      expect(info.uptimeAsWords).to.match(/hours .* minutes .* seconds/);
      expect(JSON.parse(await anon.execute("info:brief")).uptimeAsMillis).to.be.a("number");
    });

    it("noop:0 → data:ok; noop over 5000 → AT0022", async () => {
      expect(await c.execute("noop:0")).to.equal("ok");
      const err = await failure(c, "noop:5001");
      expect(err).to.be.instanceOf(IllegalArgumentsError);
      expect(err.message).to.include("maximum is 5000 milliseconds");
    });

    it("noop:0 on a monitor connection → data:ok with no prompt after it", async () => {
      const m = await s.owner();
      m.monitor(".*", 0);
      expect(await m.send("noop:0")).to.equal("data:ok");
      const stats = m.nextNotification((n) => n.id === "-1");
      await c.execute("update:public:mon.stats@alice v");
      const n = await stats;
      expect(n).to.include({
        from: "@alice",
        to: "@alice",
        key: "statsNotification.@alice",
        messageType: "MessageType.key",
      });
    });

    it("batch runs each command and reports data or error per id", async () => {
      const cmd = `batch:${JSON.stringify([
        { id: 1, command: "update:public:batch.k@alice v" },
        { id: 2, command: "llookup:nope.batch@alice" },
        { id: 3, command: "llookup:public:batch.k@alice" },
      ])}`;
      const out = JSON.parse(await c.execute(cmd));
      expect(out[0].id).to.equal(1);
      expect(out[0].response.data).to.match(/^\d+$/);
      expect(out[1]).to.deep.equal({
        id: 2,
        response: { error_code: "AT0015", error_message: "key not found" },
      });
      expect(out[2].response).to.deep.equal({ data: "v" });
    });

    it("owner-only verbs on an unauthenticated connection → AT0401 Command cannot be executed without auth", async () => {
      const anon = await s.client();
      for (const cmd of [
        "update:public:x@alice v",
        "llookup:public:x@alice",
        "delete:x@alice",
        "stats",
        "sync:from:-1:limit:1",
        "config:block:show",
        "monitor",
        "batch:[]",
        "plookup:x@alice",
      ]) {
        expect(await anon.send(cmd), cmd).to.equal(
          "error:AT0401-Exception: Command cannot be executed without auth",
        );
      }
    });
  });
});
