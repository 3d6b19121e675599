// The protocol core driven through an in-memory Duplex: every socket.write() call is
// recorded, so "one answer = one write" is checked call by call.
import { expect } from "chai";
import { Duplex } from "node:stream";
import pino from "pino";
import {
  DirectoryMetrics,
  DirectorySession,
  LogLimiter,
  MemoryDirectoryStore,
  StoreUnavailableError,
  type DirectoryStore,
} from "@atplatform/directory";
import { IpMissBudget } from "../../services/directory/src/ip-budget";
import { ConnectionTracker } from "../../services/directory/src/connections";
import { sleep } from "./helpers";

class RecordingDuplex extends Duplex {
  writes: string[] = [];
  ended = false;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes.push(chunk.toString("utf8"));
    cb();
  }
  override _final(cb: () => void): void {
    this.ended = true;
    cb();
    // The peer answers our FIN with its own, as a TLS client does.
    setImmediate(() => this.push(null));
  }
  input(data: string | Buffer): void {
    this.push(data);
  }
}

function session(
  store: DirectoryStore,
  opts: { budget?: IpMissBudget; delay?: number; ip?: string } = {},
) {
  const stream = new RecordingDuplex();
  const metrics = new DirectoryMetrics(() => 0);
  const s = new DirectorySession(stream, opts.ip ?? "192.0.2.1", {
    store,
    metrics,
    log: pino({ level: "silent" }),
    ipBudget: opts.budget ?? new IpMissBudget(0, 1000),
    throttleDelayMs: opts.delay ?? 20,
    throttleCloseAfter: 3,
    unavailableLog: new LogLimiter(1000),
    onClose: () => undefined,
  });
  s.start();
  return { stream, s, metrics };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met");
    await sleep(5);
  }
}

describe("directory session core", () => {
  const store = new MemoryDirectoryStore([["alice", "a.test:1"]]);

  it("writes the greeting and every answer in exactly one write call", async () => {
    const { stream } = session(store);
    stream.input("alice\nnobody\r\nALICE\n");
    await until(() => stream.writes.length === 4);
    expect(stream.writes).to.deep.equal(["@", "a.test:1\r\n@", "null\r\n@", "a.test:1\r\n@"]);
  });

  it("splits lines in bytes, so a UTF-8 character cut across chunks still matches", async () => {
    const s = new MemoryDirectoryStore([["bob🛠", "b.test:2"]]);
    const { stream } = session(s);
    const bytes = Buffer.from("bob🛠\n");
    stream.input(bytes.subarray(0, 5));
    await sleep(5);
    stream.input(bytes.subarray(5));
    await until(() => stream.writes.length === 2);
    expect(stream.writes[1]).to.equal("b.test:2\r\n@");
  });

  it("closes instead of answering null when the store is unavailable", async () => {
    const failing: DirectoryStore = {
      lookup: () => Promise.reject(new StoreUnavailableError("down")),
      ready: () => false,
      start: async () => undefined,
      close: async () => undefined,
    };
    const { stream, s, metrics } = session(failing);
    stream.input("alice\n");
    await until(() => s.isClosed);
    expect(stream.writes).to.deep.equal(["@"]);
    expect(metrics.lookups.get({ result: "unavailable" })).to.equal(1);
  });

  it("answers what was sent before the client half-closed, then ends", async () => {
    const { stream } = session(store);
    stream.input("alice\n");
    stream.push(null);
    await until(() => stream.ended);
    expect(stream.writes).to.deep.equal(["@", "a.test:1\r\n@"]);
  });

  it("drain() answers queued lookups and then ends", async () => {
    const slow: DirectoryStore = {
      lookup: async (k) => {
        await sleep(50);
        return k === "alice" ? "a.test:1" : null;
      },
      ready: () => true,
      start: async () => undefined,
      close: async () => undefined,
    };
    const { stream, s } = session(slow);
    stream.input("alice\nalice\n");
    await sleep(10);
    await s.drain();
    expect(stream.writes).to.deep.equal(["@", "a.test:1\r\n@", "a.test:1\r\n@"]);
    expect(stream.ended).to.equal(true);
  });

  it("per-IP budget: unknown answers across connections from one IP are limited", async () => {
    const budget = new IpMissBudget(2, 60_000);
    try {
      const a = session(store, { budget });
      a.stream.input("x1\n");
      await until(() => a.stream.writes.length === 2);
      const b = session(store, { budget });
      b.stream.input("x2\n");
      await until(() => b.stream.writes.length === 2);
      const c = session(store, { budget });
      c.stream.input("alice\nx3\n");
      await until(() => c.s.isClosed);
      expect(c.stream.writes).to.deep.equal(["@", "a.test:1\r\n@"]);
      // Another IP is not affected.
      const d = session(store, { budget, ip: "192.0.2.99" });
      d.stream.input("x4\n");
      await until(() => d.stream.writes.length === 2);
      expect(d.stream.writes[1]).to.equal("null\r\n@");
    } finally {
      budget.close();
    }
  });

  it("per-IP budget refills over its window", () => {
    let now = 0;
    const budget = new IpMissBudget(2, 1000, () => now);
    expect(budget.take("ip")).to.equal(true);
    expect(budget.take("ip")).to.equal(true);
    expect(budget.take("ip")).to.equal(false);
    now = 500;
    expect(budget.take("ip")).to.equal(true);
    expect(budget.take("ip")).to.equal(false);
    budget.close();
  });

  it("per-IP budget: exempt addresses and ranges are never counted", () => {
    const budget = new IpMissBudget(1, 60_000, Date.now, ["10.1.0.0/16", "192.0.2.7", "fd00::/8"]);
    try {
      for (const ip of ["10.1.2.3", "::ffff:10.1.9.9", "192.0.2.7", "fd00::1234"]) {
        for (let i = 0; i < 5; i++) expect(budget.take(ip), ip).to.equal(true);
      }
      for (const ip of ["10.2.0.1", "192.0.2.8", "fe80::1", "::ffff:192.0.2.9"]) {
        expect(budget.take(ip), ip).to.equal(true);
        expect(budget.take(ip), ip).to.equal(false);
      }
    } finally {
      budget.close();
    }
  });

  it("connection cap evicts the longest-idle, non-busy connection", () => {
    const closed: string[] = [];
    const conn = (name: string, lastActive: number, busy = false) => ({
      name,
      lastActive,
      busy,
      remoteIp: "192.0.2.1",
      destroy: () => void closed.push(name),
    });
    const tracker = new ConnectionTracker<ReturnType<typeof conn>>(2);
    const b = conn("b", 1, true); // longest idle but busy answering
    tracker.add(b);
    tracker.add(conn("a", 2));
    tracker.add(conn("c", 3)); // b is skipped, a goes
    expect(closed).to.deep.equal(["a"]);
    b.lastActive = 10;
    b.busy = false;
    tracker.add(conn("d", 11)); // now c is the longest idle
    expect(closed).to.deep.equal(["a", "c"]);
    expect(tracker.size).to.equal(2);
  });
});
