// M6 (security issue 11): connection floods. Real TLS clients from several loopback
// addresses (127.0.0.x), which the directory sees as different client IPs.
import { expect } from "chai";
import { greeted, sleep, startDirectory, type RawClient, type TestDirectory } from "./helpers";

describe("M6: connection floods cannot push out other clients", function () {
  this.timeout(60_000);
  let dir: TestDirectory | undefined;
  const clients: RawClient[] = [];
  const open = async (ip: string) => {
    const c = await greeted(dir!.port, ip);
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await dir?.stop();
    dir = undefined;
  });

  it("M6: one IP holds at most 100 connections by default; its own oldest idle one makes room", async () => {
    dir = await startDirectory({ alice: "alice.test:1" });
    const bystander = await open("127.0.0.3");
    const flood: RawClient[] = [];
    for (let i = 0; i < 103; i++) flood.push(await open("127.0.0.2"));
    for (const c of flood.slice(0, 3)) await c.waitForClose();
    expect(flood.slice(3).filter((c) => c.closed)).to.have.length(0);
    expect(dir.server.openConnections).to.equal(101);
    expect(bystander.closed).to.equal(false);
    expect(await bystander.lookup("alice")).to.equal("alice.test:1\r\n@");
  });

  it("M6: the per-IP cap spares --ip-budget-exempt addresses", async () => {
    dir = await startDirectory(
      { alice: "alice.test:1" },
      { maxConnectionsPerIp: 2, ipBudgetExempt: ["127.0.0.4"] },
    );
    const capped = [await open("127.0.0.2"), await open("127.0.0.2"), await open("127.0.0.2")];
    await capped[0]!.waitForClose();
    const trusted = [];
    for (let i = 0; i < 5; i++) trusted.push(await open("127.0.0.4"));
    await sleep(100);
    expect(trusted.filter((c) => c.closed)).to.have.length(0);
    expect(capped[2]!.closed).to.equal(false);
  });

  it("M6: at the global cap a flood evicts the heaviest IP's connections, not idle legitimate clients", async () => {
    dir = await startDirectory({ alice: "alice.test:1" }, { maxConnections: 8 });
    // Legitimate clients connected first and then stayed idle: the longest-idle ones.
    const legit = [await open("127.0.0.3"), await open("127.0.0.4"), await open("127.0.0.5")];
    await sleep(20);
    const flood: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await open("127.0.0.2");
      expect(await c.lookup("alice")).to.equal("alice.test:1\r\n@"); // active, not idle
      flood.push(c);
    }
    expect(flood.filter((c) => !c.closed)).to.have.length(5);
    for (const c of legit) {
      expect(c.closed).to.equal(false);
      expect(await c.lookup("alice")).to.equal("alice.test:1\r\n@");
    }
  });

  it("M6: once half the cap is used, idle connections are closed (--idle-timeout-under-load-ms), never below it", async () => {
    dir = await startDirectory(
      { alice: "alice.test:1" },
      { maxConnections: 4, idleTimeoutUnderLoadMs: 200 },
    );
    const first = await open("127.0.0.3");
    await sleep(700); // one of four: not under load, idle connections are kept
    expect(first.closed).to.equal(false);
    expect(await first.lookup("alice")).to.equal("alice.test:1\r\n@");
    const second = await open("127.0.0.4"); // two of four: under load
    await first.waitForClose(5000);
    await second.waitForClose(5000);
    expect(dir.server.openConnections).to.equal(0);
  });
});
