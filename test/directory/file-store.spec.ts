// The file store: reloads (on change, on SIGHUP-style reload()) under continuous
// lookups never give a wrong answer or a null for an atSign that stays in the file.
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { FileRecordWriter, parseRecords } from "@atplatform/directory";
import { greeted, recordsText, sleep, startDirectory, type TestDirectory } from "./helpers";

describe("directory file store", () => {
  let dir: TestDirectory | undefined;
  afterEach(async () => {
    await dir?.stop();
    dir = undefined;
  });

  it("reload under continuous lookups never yields a wrong answer", async function () {
    this.timeout(20_000);
    const stable: Record<string, string> = {};
    for (let i = 0; i < 200; i++) stable[`stable${i}`] = `s${i}.test:${1000 + i}`;
    dir = await startDirectory(stable, { watchIntervalMs: 50 });
    const writer = new FileRecordWriter(dir.records);
    const clients = await Promise.all([1, 2, 3].map(() => greeted(dir!.port)));
    let stop = false;
    let answered = 0;
    const wrong: string[] = [];
    const loops = clients.map(async (c, n) => {
      let i = n;
      while (!stop) {
        // Pipeline a batch of ten lookups of atSigns that are in every version of the file.
        const names = Array.from({ length: 10 }, (_, k) => `stable${(i + k * 7) % 200}`);
        i += 13;
        const start = c.received.length;
        c.send(names.map((x) => x.toUpperCase() + "\r\n").join(""));
        const expected = names.map((x) => `${stable[x]}\r\n@`).join("");
        await c.waitForBytes(start + Buffer.byteLength(expected), 5000);
        const got = c.received.subarray(start).toString("utf8");
        if (got !== expected) wrong.push(got);
        answered += names.length;
      }
    });
    // Meanwhile: 40 atomic rewrites (adds, changes, deletes of other atSigns) and forced
    // reloads, as the registrar and SIGHUP would cause.
    for (let v = 0; v < 40; v++) {
      await writer.set(`moving`, `v${v}.test:${2000 + v}`);
      await writer.set(`temp${v}`, `t${v}.test:1`);
      if (v > 0) await writer.delete(`temp${v - 1}`);
      if (v % 5 === 0) await dir.server.reload();
      await sleep(15);
    }
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.close();
    expect(wrong).to.deep.equal([]);
    expect(answered).to.be.greaterThan(100);
    // And the changes did arrive: wait for the last version (temp39 added, temp38 deleted;
    // an older version can lack temp38 too, so both are checked).
    const store = dir.server.fileStore!;
    const isLast = async () =>
      (await store.lookup("temp39")) !== null && (await store.lookup("temp38")) === null;
    for (let i = 0; !(await isLast()); i++) {
      if (i > 100) throw new Error("last version never loaded");
      await sleep(20);
    }
    const c = await greeted(dir.port);
    expect(await c.lookup("moving")).to.equal("v39.test:2039\r\n@");
    expect(await c.lookup("temp39")).to.equal("t39.test:1\r\n@");
    expect(await c.lookup("temp38")).to.equal("null\r\n@");
    c.close();
    const onDisk = parseRecords(
      await import("node:fs/promises").then((f) => f.readFile(dir!.records, "utf8")),
    );
    expect(onDisk.size).to.equal(202);
  });

  it("keeps the previous records when the new file does not parse", async () => {
    dir = await startDirectory({ alice: "a.test:1" }, { watchIntervalMs: 50 });
    writeFileSync(dir.records, "alice a.test:1\nthis line is broken\n");
    expect(await dir.server.reload()).to.equal(undefined);
    const c = await greeted(dir.port);
    expect(await c.lookup("alice")).to.equal("a.test:1\r\n@");
    expect(dir.server.metrics.reloads.get({ kind: "records", result: "error" })).to.be.at.least(1);
    writeFileSync(dir.records, recordsText({ alice: "a.test:2" }));
    await dir.server.reload();
    expect(await c.lookup("alice")).to.equal("a.test:2\r\n@");
    c.close();
  });

  it("FileRecordWriter writes lower-case atSigns without '@', idempotently", async () => {
    dir = await startDirectory({});
    const writer = new FileRecordWriter(dir.records);
    await writer.set("@Alice", "alice.test:1");
    await writer.set("alice", "alice.test:1");
    await writer.set("BOB", "bob.test:2");
    await writer.delete("@bob");
    await writer.delete("@bob");
    const { readFile } = await import("node:fs/promises");
    expect(await readFile(dir.records, "utf8")).to.equal("alice alice.test:1\n");
    let failed = false;
    await writer.set("carol", "[::1]:80").catch(() => (failed = true));
    expect(failed).to.equal(true);
  });
});
