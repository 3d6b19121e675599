import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { RegistrarStore } from "@atplatform/registrar";

describe("registrar store (SQLite)", function () {
  let dir: string;
  let file: string;
  const swarm = { name: "s1", host: "127.0.0.1", minPort: 30000, maxPort: 30002 };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-store-"));
    file = join(dir, "registrar.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function requested(store: RegistrarStore, name: string) {
    expect(store.reserve(name, { activationKey: `key-${name}` })).to.equal(true);
    return store.request(name, "s".repeat(128));
  }

  it("a (swarm, port) is never handed out twice, even by two processes' stores on one file", () => {
    const a = new RegistrarStore(file);
    const b = new RegistrarStore(file);
    try {
      const ra = requested(a, "one");
      const rb = requested(b, "two");
      const port = a.firstFreePort(swarm)!;
      expect(b.firstFreePort(swarm)).to.equal(port);
      const got = a.allocate(ra, swarm, port);
      expect(got).to.include({ state: "allocated", port });
      // b saw the same free port a moment ago; the primary key refuses it now.
      expect(b.allocate(rb, swarm, port)).to.equal("taken");
      expect(b.get("two")!.state).to.equal("requested");
      const next = b.firstFreePort(swarm)!;
      expect(next).not.to.equal(port);
      expect(b.allocate(rb, swarm, next)).to.include({ state: "allocated", port: next });
      expect(a.placementCount()).to.equal(2);
    } finally {
      a.close();
      b.close();
    }
  });

  it("transitions are compare-and-set: a stale record cannot overwrite newer progress", () => {
    const s = new RegistrarStore(file);
    try {
      const r = requested(s, "cas");
      const allocated = s.allocate(r, swarm, s.firstFreePort(swarm)!);
      expect(allocated).to.not.equal("taken");
      expect(s.transition(r, "allocated")).to.equal(undefined); // r still says "requested"
      const started = s.transition(allocated as never, "atserver_started");
      expect(started!.state).to.equal("atserver_started");
      expect(s.transition(allocated as never, "healthy")).to.equal(undefined);
    } finally {
      s.close();
    }
  });

  it("M4: an unactivated reservation lapses, by email or by API key; a live one does not", () => {
    const s = new RegistrarStore(file);
    try {
      expect(s.reserve("squat", { email: "a@example.com" })).to.equal(true);
      expect(s.reserve("squat", { email: "b@example.com" })).to.equal(false);
      expect(s.reserve("squat", { email: "b@example.com", reservationTtlMs: -1 })).to.equal(true);
      expect(s.get("squat")!.email).to.equal("b@example.com");
      expect(s.reserve("preset", { activationKey: "k1" })).to.equal(true);
      expect(s.reserve("preset", { activationKey: "k2" })).to.equal(false);
      expect(s.reserve("preset", { email: "c@example.com", reservationTtlMs: -1 })).to.equal(true);
      expect(s.get("preset")!).to.include({ email: "c@example.com", activationKey: null });
      s.request("preset", "secret");
      expect(s.reserve("preset", { activationKey: "k3", reservationTtlMs: -1 })).to.equal(false);
    } finally {
      s.close();
    }
  });

  it("Low: registrar.sqlite and its -wal/-shm files are 0600, new or left 0644 by an older version", () => {
    const modes = (): number[] =>
      ["", "-wal", "-shm"].map((x) => statSync(`${file}${x}`).mode & 0o777);
    const s = new RegistrarStore(file);
    requested(s, "private1");
    expect(modes()).to.deep.equal([0o600, 0o600, 0o600]);
    s.close();
    writeFileSync(file, "", { flag: "a" });
    for (const x of ["", "-wal", "-shm"])
      if (existsSync(`${file}${x}`)) chmodSync(`${file}${x}`, 0o644);
    const again = new RegistrarStore(file);
    try {
      requested(again, "private2");
      expect(modes()).to.deep.equal([0o600, 0o600, 0o600]);
    } finally {
      again.close();
    }
  });

  it("state survives reopening (migrations applied once)", () => {
    const s = new RegistrarStore(file);
    requested(s, "durable");
    s.close();
    const again = new RegistrarStore(file);
    try {
      expect(again.get("durable")!.state).to.equal("requested");
      expect(again.events("durable").map((e) => e.kind)).to.deep.equal(["reserved", "requested"]);
    } finally {
      again.close();
    }
  });
});
