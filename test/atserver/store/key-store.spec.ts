import { expect } from "chai";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  DB_FILE,
  KeyStore,
  StoreClosedError,
  StoreLockedError,
} from "../../../services/atserver/src/store";
import { TempStores, TestClock } from "./fixtures/temp-store";

describe("atserver store: KeyStore basics", () => {
  const temp = new TempStores();
  afterEach(() => temp.cleanup());

  it("put then get returns value, metadata and commit id", () => {
    const s = temp.open();
    const id = s.put("public:phone@alice", "123", { version: 0, isBinary: false });
    expect(id).to.equal(0);
    expect(s.get("public:phone@alice")).to.deep.equal({
      key: "public:phone@alice",
      value: "123",
      metadata: { version: 0, isBinary: false },
      expiresAt: null,
      availableAt: null,
      commitId: 0,
    });
    expect(s.get("public:other@alice")).to.equal(undefined);
  });

  it("put replaces the whole entry, including expiry", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now });
    s.put("k@alice", "v1", { a: 1 }, { expiresAt: clock.t + 1000, availableAt: clock.t - 1 });
    const id = s.put("k@alice", "v2", { b: 2 });
    expect(s.get("k@alice")).to.deep.equal({
      key: "k@alice",
      value: "v2",
      metadata: { b: 2 },
      expiresAt: null,
      availableAt: null,
      commitId: id,
    });
  });

  it("stores null values and emoji keys", () => {
    const s = temp.open();
    s.put("@🦄:emoji.name@alice", null, {});
    s.put("ключ.日本@alice", "値 🦄", {});
    expect(s.get("@🦄:emoji.name@alice")?.value).to.equal(null);
    expect(s.get("ключ.日本@alice")?.value).to.equal("値 🦄");
  });

  it("rejects empty keys", () => {
    const s = temp.open();
    expect(() => s.put("", "v", {})).to.throw(TypeError);
  });

  it("updateMetadata keeps the value, replaces metadata, keeps or sets expiry", () => {
    const clock = new TestClock();
    const s = temp.open(undefined, { now: clock.now });
    s.put("k@alice", "v", { version: 0 }, { expiresAt: clock.t + 5000 });
    const id = s.updateMetadata("k@alice", { version: 1 });
    expect(id).to.equal(1);
    expect(s.get("k@alice")).to.include({ value: "v", expiresAt: clock.t + 5000, commitId: 1 });
    expect(s.get("k@alice")?.metadata).to.deep.equal({ version: 1 });
    s.updateMetadata("k@alice", { version: 2 }, { expiresAt: null, availableAt: clock.t });
    expect(s.get("k@alice")).to.include({ expiresAt: null, availableAt: clock.t });
    expect(s.commitsSince(-1).map((c) => c.operation)).to.deep.equal(["update_meta"]);
  });

  it("updateMetadata of an absent key returns undefined and logs nothing", () => {
    const s = temp.open();
    expect(s.updateMetadata("nope@alice", {})).to.equal(undefined);
    expect(s.lastCommitId()).to.equal(-1);
    expect(s.get("nope@alice")).to.equal(undefined);
  });

  it("delete removes the key and returns a commit id; absent key gives undefined", () => {
    const s = temp.open();
    s.put("public:x@alice", "1", {});
    expect(s.delete("public:x@alice")).to.equal(1);
    expect(s.get("public:x@alice")).to.equal(undefined);
    expect(s.delete("public:x@alice")).to.equal(undefined);
    expect(s.commitsSince(-1)).to.have.length(1);
    expect(s.commitsSince(-1)[0]).to.include({ id: 1, key: "public:x@alice", operation: "delete" });
  });

  it("keys() lists live keys sorted by code point, filtered by regex", () => {
    const s = temp.open();
    for (const k of ["b@alice", "public:a@alice", "a@alice", "😀@alice", "\uffff@alice"]) {
      s.put(k, "v", {});
    }
    expect([...s.keys()]).to.deep.equal([
      "a@alice",
      "b@alice",
      "public:a@alice",
      "\uffff@alice",
      "😀@alice",
    ]);
    expect([...s.keys({ regex: /^public:/ })]).to.deep.equal(["public:a@alice"]);
    // A global regex must not skip keys through its lastIndex.
    expect([...s.keys({ regex: /@alice/g })]).to.have.length(5);
  });

  it("keys() lets the caller read and write while iterating", () => {
    // More keys than one internal page (256), so the cursor moves on while the caller writes.
    const s = temp.open(undefined, { synchronous: "normal" });
    for (let i = 0; i < 600; i++) s.put(`k${String(i).padStart(4, "0")}@alice`, String(i), {});
    let n = 0;
    for (const k of s.keys()) {
      expect(s.get(k)?.value).to.equal(String(n));
      s.updateMetadata(k, { seen: true });
      n++;
    }
    expect(n).to.equal(600);
  });

  it("keys() walks many keys in order across pages, with and without a regex", () => {
    const s = temp.open(undefined, { synchronous: "normal" });
    const n = 5000;
    for (let i = 0; i < n; i++) s.put(`k${String(i).padStart(5, "0")}.wavi@alice`, "v", {});
    let count = 0;
    let prev = "";
    for (const k of s.keys()) {
      expect(k > prev).to.equal(true);
      prev = k;
      count++;
    }
    expect(count).to.equal(n);
    expect([...s.keys({ regex: /^k0{2}1\d\d\./ })]).to.have.length(100);
    // Stopping early is fine: nothing stays open.
    for (const _k of s.keys()) break;
    expect(s.put("after@alice", "v", {})).to.equal(n);
  });

  it("settings persist across reopen", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    expect(s.getSetting("cram_disabled")).to.equal(undefined);
    s.setSetting("cram_disabled", "true");
    s.setSetting("cram_disabled", "yes");
    s.close();
    const s2 = temp.open(dir);
    expect(s2.getSetting("cram_disabled")).to.equal("yes");
  });

  it("reopens after a clean close with data, commit ids and no leftover WAL", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    s.put("a@alice", "1", { x: 1 });
    s.put("b@alice", "2", {});
    s.close();
    s.close(); // idempotent
    expect(existsSync(join(dir, `${DB_FILE}-wal`))).to.equal(false);
    const logged: string[] = [];
    const logger = {
      info: (_o: object, m?: string) => logged.push(`info ${m}`),
      warn: (_o: object, m?: string) => logged.push(`warn ${m}`),
    };
    const s2 = temp.open(dir, { logger });
    expect(logged).to.deep.equal(["info store opened"]);
    expect(s2.get("a@alice")?.metadata).to.deep.equal({ x: 1 });
    expect(s2.lastCommitId()).to.equal(1);
    expect(s2.put("c@alice", "3", {})).to.equal(2);
  });

  it("methods after close throw StoreClosedError", () => {
    const s = temp.open();
    expect(s.isOpen).to.equal(true);
    s.close();
    expect(s.isOpen).to.equal(false);
    expect(() => s.get("a@alice")).to.throw(StoreClosedError);
    expect(() => s.put("a@alice", "v", {})).to.throw(StoreClosedError);
    expect(() => [...s.keys()]).to.throw(StoreClosedError);
  });

  it("uses WAL without a shared-memory file and keeps files private", () => {
    const dir = temp.dir();
    const s = temp.open(dir);
    s.put("a@alice", "1", {});
    expect(existsSync(join(dir, `${DB_FILE}-wal`))).to.equal(true);
    expect(existsSync(join(dir, `${DB_FILE}-shm`))).to.equal(false);
    expect(statSync(join(dir, DB_FILE)).mode & 0o077).to.equal(0);
    expect(statSync(join(dir, `${DB_FILE}-wal`)).mode & 0o077).to.equal(0);
    expect(statSync(dir).mode & 0o077).to.equal(0);
  });

  it("a deleted secret does not remain in the database file", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    const secret = "cram-secret-5f2b9c0e7a1d4e3b8c6a";
    s.put("public:a@alice", "keeps the page in use", {});
    s.put("privatekey:at_secret", secret, {});
    s.delete("privatekey:at_secret");
    s.close(); // checkpoints the WAL into the file and removes the WAL
    expect(readFileSync(join(dir, DB_FILE)).includes(secret)).to.equal(false);
  });

  it("a second handle in the same process is refused", () => {
    const dir = temp.dir();
    temp.open(dir);
    expect(() => KeyStore.open(dir))
      .to.throw(StoreLockedError)
      .with.property("path", dir);
  });

  it("backup() copies the open store; the copy opens as a store", async () => {
    const s = temp.open();
    s.put("a@alice", "1", { m: 1 });
    s.setSetting("cram_disabled", "true");
    const restored = temp.dir();
    await s.backup(join(restored, DB_FILE));
    s.put("b@alice", "2", {}); // the live store keeps working
    let refused: unknown;
    await s.backup(join(s.dir, `${DB_FILE}-wal`)).catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(TypeError);
    const copy = temp.open(restored);
    expect(copy.get("a@alice")?.metadata).to.deep.equal({ m: 1 });
    expect(copy.get("b@alice")).to.equal(undefined);
    expect(copy.getSetting("cram_disabled")).to.equal("true");
    expect(copy.put("c@alice", "3", {})).to.equal(1);
  });

  it("sizeOnDisk() counts the database and its WAL", () => {
    const s = temp.open();
    const empty = s.sizeOnDisk();
    expect(empty).to.be.greaterThan(0);
    s.put("a@alice", "x".repeat(100_000), {});
    expect(s.sizeOnDisk()).to.be.greaterThan(empty + 100_000);
  });

  it("stores and returns a 10 MB value", () => {
    const dir = temp.dir();
    const s = KeyStore.open(dir);
    const big = "x".repeat(10 * 1024 * 1024 - 3) + "🦄";
    s.put("big@alice", big, {});
    s.close();
    const s2 = temp.open(dir);
    const v = s2.get("big@alice")?.value;
    expect(v?.length).to.equal(big.length);
    expect(v === big).to.equal(true);
  });
});
