// The outbound notification queue (Part B §6.1) and the bounded notification index, on a
// real KeyStore with a fake clock and a scripted peer: delivery order by priority and wait,
// retries that lower the priority, the retry limit, quarantine, unknown recipients.
import { expect } from "chai";
import { rmSync } from "node:fs";
import pino from "pino";
import {
  AtServerNotFoundError,
  ConnectFailedError,
  OutboundLimitError,
  TimeoutError,
} from "@atplatform/protocol/src/core";
import { helpText, resolveConfig } from "../../services/atserver/src/config";
import { KeyStore } from "../../services/atserver/src/store";
import { NotificationStore } from "../../services/atserver/src/notifications/notification-store";
import {
  NotificationQueue,
  type PeerConnector,
  type PeerLink,
} from "../../services/atserver/src/notifications/queue";
import type { NotificationRecord } from "../../services/atserver/src/notifications/record";
import {
  AGING_MS,
  deliveryOrder,
  lowerPriority,
} from "../../services/atserver/src/notifications/schedule";
import { tempDir } from "./harness";

const log = pino({ level: "silent" });

let seq = 0;
function record(o: Partial<NotificationRecord> & { createdAt: number }): NotificationRecord {
  const id = o.id ?? `n${++seq}`;
  return {
    id,
    type: "sent",
    from: "@alice",
    to: "@bob",
    key: `@bob:${id}@alice`,
    value: "v",
    operation: "update",
    messageType: "key",
    priority: "low",
    strategy: "all",
    latestN: 1,
    notifier: "SYSTEM",
    ttln: 86_400_000,
    metadata: {},
    expiresAt: o.createdAt + 86_400_000,
    status: "queued",
    retryCount: 0,
    nextAttemptAt: o.createdAt,
    ...o,
  };
}

/** A peer whose answers the test scripts; records what was sent and every connect. */
class FakePeers implements PeerConnector {
  sent: Array<{ to: string; id: string }> = [];
  connects: string[] = [];
  connectError?: Error;
  reply: (to: string, id: string) => Promise<string> | string = () => "data:success";

  polClient(to: string): Promise<PeerLink> {
    this.connects.push(to);
    if (this.connectError) return Promise.reject(this.connectError);
    return Promise.resolve({
      send: async (line: string) => {
        const id = /^notify:id:([^:]+):/.exec(line)![1]!;
        this.sent.push({ to, id });
        return this.reply(to, id);
      },
    });
  }
}

describe("atserver notification queue: order, retries, quarantine (Part B §6.1)", () => {
  let dir: string;
  let ks: KeyStore;
  let t: number;
  let store: NotificationStore;
  let peers: FakePeers;
  let queue: NotificationQueue;
  let maxRetries: number;
  const now = () => t;

  const start = (concurrency?: number) => {
    queue = new NotificationQueue(
      store,
      peers,
      { maxRetries: () => maxRetries, now, quarantineMs: 10_000, jobMs: 11_000, concurrency },
      log,
    );
  };
  const run = async () => {
    queue.kick();
    await queue.idle();
  };

  beforeEach(() => {
    dir = tempDir("notify-queue-");
    t = 1_000_000;
    ks = KeyStore.open(dir, { now });
    store = new NotificationStore(ks, now);
    peers = new FakePeers();
    maxRetries = 30;
    start();
  });
  afterEach(() => {
    queue.stop();
    ks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("delivers high before medium before low; equal priorities oldest first", async () => {
    const ids = ["low1", "low2", "high", "medium"];
    store.save(record({ id: "low1", createdAt: t }));
    store.save(record({ id: "low2", createdAt: t + 1 }));
    store.save(record({ id: "high", createdAt: t + 2, priority: "high" }));
    store.save(record({ id: "medium", createdAt: t + 3, priority: "medium" }));
    t += 10;
    await run();
    expect(peers.sent.map((s) => s.id)).to.deep.equal(["high", "medium", "low1", "low2"]);
    for (const id of ids) expect(store.sent(id)!.status).to.equal("delivered");
    expect(store.sent("high")!.retryCount).to.equal(1);
  });

  it("a long-waiting low notification is not overtaken by fresh high ones (aging)", async () => {
    peers.connectError = new ConnectFailedError("down"); // keeps the old one waiting
    store.save(record({ id: "old-low", createdAt: t }));
    await run();
    peers.connectError = undefined;
    t += 2 * AGING_MS + 11_000;
    store.save(record({ id: "fresh-high", createdAt: t, priority: "high" }));
    await run();
    // old-low failed once at 1 000 000 (due again at the quarantine's end, 10 s later): it
    // counts as queued then; fresh-high as 2 × AGING_MS before its creation, still later.
    expect(peers.sent.map((s) => s.id)).to.deep.equal(["old-low", "fresh-high"]);
  });

  it("recipients are served by their most urgent notification when only one is served at a time", async () => {
    queue.stop();
    start(1);
    store.save(record({ id: "bob-low", to: "@bob", createdAt: t }));
    store.save(record({ id: "carol-high", to: "@carol", createdAt: t + 5, priority: "high" }));
    t += 10;
    await run();
    expect(peers.connects).to.deep.equal(["@carol", "@bob"]);
  });

  it("a refused notification is errored, retried after the job interval at a lower priority", async () => {
    let refuse = true;
    peers.reply = () => (refuse ? "error:AT0011-Internal server exception" : "data:success");
    store.save(record({ id: "r", createdAt: t, priority: "high" }));
    await run();
    let n = store.sent("r")!;
    expect(n).to.include({ status: "errored", retryCount: 1, priority: "medium" });
    expect(queue.quarantinedUntil("@bob")).to.equal(undefined); // the connection was fine
    t += 5000;
    await run();
    expect(peers.sent).to.have.length(1); // not due yet
    t += 6000;
    await run();
    n = store.sent("r")!;
    expect(n).to.include({ status: "errored", retryCount: 2, priority: "low" });
    refuse = false;
    t += 11_000;
    await run();
    expect(store.sent("r")).to.include({ status: "delivered", retryCount: 3, priority: "low" });
  });

  it("after maxRetries failed attempts a notification stays errored and is not tried again", async () => {
    maxRetries = 3;
    peers.reply = () => "error:AT0011-Internal server exception";
    store.save(record({ id: "m", createdAt: t }));
    for (let i = 0; i < 5; i++) {
      await run();
      t += 11_000;
    }
    expect(peers.sent).to.have.length(3);
    expect(store.sent("m")).to.include({ status: "errored", retryCount: 3, abandoned: true });
    expect([...store.pending()]).to.deep.equal([]);
  });

  it("a connection failure quarantines the recipient for 10 s: nothing is tried meanwhile", async () => {
    peers.connectError = new ConnectFailedError("connection refused");
    store.save(record({ id: "q1", createdAt: t }));
    await run();
    expect(queue.quarantinedUntil("@bob")).to.equal(t + 10_000);
    expect(store.sent("q1")).to.include({ status: "errored", retryCount: 0 });
    peers.connectError = undefined;
    t += 5000;
    store.save(record({ id: "q2", createdAt: t })); // enqueued during the quarantine
    await run();
    expect(peers.connects).to.deep.equal(["@bob"]);
    store.save(record({ id: "other", to: "@carol", createdAt: t }));
    await run();
    expect(store.sent("other")!.status).to.equal("delivered"); // others are not held up
    t += 11_000;
    await run();
    expect(store.sent("q1")!.status).to.equal("delivered");
    expect(store.sent("q2")!.status).to.equal("delivered");
  });

  it("no data:success in time (timeout) or a dropped connection: errored and quarantined", async () => {
    peers.reply = () => Promise.reject(new TimeoutError("no response to notify in time"));
    store.save(record({ id: "to1", createdAt: t }));
    store.save(record({ id: "to2", createdAt: t + 1 }));
    t += 10;
    await run();
    expect(store.sent("to1")).to.include({ status: "errored", retryCount: 0 });
    expect(store.sent("to2")).to.include({ status: "errored", retryCount: 0 });
    expect(queue.quarantinedUntil("@bob")).to.equal(t + 10_000);
  });

  it("an unreachable recipient: the quarantine doubles up to 5 min, no attempt is used, delivery once it is back", async () => {
    maxRetries = 3;
    peers.connectError = new ConnectFailedError("connection refused");
    store.save(record({ id: "long", createdAt: t }));
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      await run();
      const until = queue.quarantinedUntil("@bob")!;
      waits.push(until - t);
      t = until;
    }
    expect(waits).to.deep.equal([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
    // Over 20 minutes down and more failures than maxRetries: still waiting, not given up.
    expect(store.sent("long")).to.include({ status: "errored", retryCount: 0 });
    expect(store.sent("long")!.abandoned ?? false).to.equal(false);
    peers.connectError = undefined;
    await run();
    expect(store.sent("long")).to.include({ status: "delivered", retryCount: 1 });
    // Back to the short quarantine after a success.
    peers.connectError = new ConnectFailedError("connection refused");
    store.save(record({ id: "again", createdAt: t }));
    await run();
    expect(queue.quarantinedUntil("@bob")).to.equal(t + 10_000);
  });

  it("our own outbound connection cap uses no attempt and quarantines no one", async () => {
    peers.connectError = new OutboundLimitError();
    store.save(record({ id: "cap", createdAt: t }));
    await run();
    expect(store.sent("cap")).to.include({
      status: "queued",
      retryCount: 0,
      nextAttemptAt: t + 11_000,
    });
    expect(queue.quarantinedUntil("@bob")).to.equal(undefined);
    peers.connectError = undefined;
    t += 11_000;
    await run();
    expect(store.sent("cap")!.status).to.equal("delivered");
  });

  it("an atSign the directory does not know ends errored after one attempt", async () => {
    peers.connectError = new AtServerNotFoundError("@nobody does not exist in the atDirectory");
    store.save(record({ id: "u", to: "@nobody", createdAt: t }));
    await run();
    t += 60_000;
    await run();
    expect(peers.connects).to.deep.equal(["@nobody"]);
    expect(store.sent("u")).to.include({ status: "errored", abandoned: true });
  });

  it("retry state survives a restart (the records are persisted)", async () => {
    peers.reply = () => "error:AT0011-Internal server exception";
    store.save(record({ id: "p", createdAt: t, priority: "medium" }));
    await run();
    queue.stop();
    const reopened = new NotificationStore(ks, now);
    expect(reopened.sent("p")).to.include({ status: "errored", retryCount: 1, priority: "low" });
    expect([...reopened.pending()].map((n) => n.id)).to.deep.equal(["p"]);
  });
});

describe("atserver notification schedule: priority moves a notification ahead by a bounded time", () => {
  const ids = (list: NotificationRecord[]) => deliveryOrder(list).map((n) => n.id);

  it("high jumps low ones queued up to 2 × AGING_MS earlier, medium up to AGING_MS, never more", () => {
    const low = record({ id: "low", createdAt: 0 });
    expect(
      ids([low, record({ id: "high", createdAt: 2 * AGING_MS - 1, priority: "high" })]),
    ).to.deep.equal(["high", "low"]);
    expect(
      ids([low, record({ id: "high", createdAt: 2 * AGING_MS + 1, priority: "high" })]),
    ).to.deep.equal(["low", "high"]);
    expect(
      ids([low, record({ id: "mid", createdAt: AGING_MS - 1, priority: "medium" })]),
    ).to.deep.equal(["mid", "low"]);
    expect(
      ids([low, record({ id: "mid", createdAt: AGING_MS + 1, priority: "medium" })]),
    ).to.deep.equal(["low", "mid"]);
  });

  it("a failed attempt lowers the priority one level: high → medium → low → low", () => {
    expect([lowerPriority("high"), lowerPriority("medium"), lowerPriority("low")]).to.deep.equal([
      "medium",
      "low",
      "low",
    ]);
  });
});

describe("atserver notification index: bounded (oldest finished dropped first)", () => {
  let dir: string;
  let ks: KeyStore;
  let t = 1_000_000;
  const now = () => t;
  beforeEach(() => {
    dir = tempDir("notify-index-");
    ks = KeyStore.open(dir, { now });
  });
  afterEach(() => {
    ks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("past the cap the oldest delivered/received go first, rows too; undelivered stay", () => {
    const store = new NotificationStore(ks, now, 10);
    for (let i = 0; i < 3; i++) store.save(record({ id: `pending${i}`, createdAt: t++ }));
    for (let i = 0; i < 12; i++)
      store.save(
        record({
          id: `done${i}`,
          createdAt: t++,
          type: i % 2 ? "received" : "sent",
          status: "delivered",
        }),
      );
    expect(store.size).to.be.at.most(10);
    for (let i = 0; i < 3; i++) expect(store.sent(`pending${i}`)).to.not.equal(undefined);
    expect(store.get("done0")).to.equal(undefined);
    expect(store.get("done11")).to.not.equal(undefined);
    const reopened = new NotificationStore(ks, now, 10);
    expect(reopened.size).to.equal(store.size);
  });

  it("expired undelivered ones may go; when pending ones alone exceed the cap all are kept", () => {
    const store = new NotificationStore(ks, now, 5);
    store.save(record({ id: "expired", createdAt: t - 100_000, expiresAt: t - 1 }));
    for (let i = 0; i < 8; i++) store.save(record({ id: `p${i}`, createdAt: t++ }));
    expect(store.get("expired")).to.equal(undefined);
    expect([...store.pending()]).to.have.length(8);
  });
});

describe("atserver notification settings: flags, ATSERVER_* and reference names", () => {
  const required = { atSign: "@alice", port: "0", cert: "c.pem", key: "k.pem", storage: "s" };

  it("defaults: quarantine 10 s, job 11 s, 100 000 records; --help lists the flags", () => {
    const cfg = resolveConfig(required, {});
    expect(cfg).to.include({
      notificationQuarantineMs: 10_000,
      notificationJobMs: 11_000,
      maxNotifications: 100_000,
      maxNotificationRetries: 30,
    });
    for (const flag of [
      "--notification-quarantine-ms",
      "--notification-job-ms",
      "--max-notifications",
    ])
      expect(helpText()).to.include(flag);
  });

  it("ATSERVER_* in ms; the reference's notificationQuarantineDuration/notificationJobFrequency in seconds", () => {
    expect(
      resolveConfig(required, {
        ATSERVER_NOTIFICATION_QUARANTINE_MS: "2500",
        ATSERVER_MAX_NOTIFICATIONS: "500",
        notificationJobFrequency: "5",
      }),
    ).to.include({
      notificationQuarantineMs: 2500,
      maxNotifications: 500,
      notificationJobMs: 5000,
    });
    expect(
      resolveConfig(required, { notificationQuarantineDuration: "3" }).notificationQuarantineMs,
    ).to.equal(3000);
    expect(() => resolveConfig({ ...required, maxNotifications: "0" }, {})).to.throw(
      /max-notifications/,
    );
  });
});
