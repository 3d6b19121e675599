import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { AtServer, resolveConfig } from "@atplatform/atserver";
import { testTls } from "../support/test-ca";

describe("standalone atServer storage permissions", function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "atp-modes-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("Low: a standalone atServer creates its storage 0700 (and tightens a 0755 one), the database 0600", async () => {
    const tls = await testTls();
    for (const storage of [join(dir, "new", "storage"), join(dir, "old")]) {
      if (storage.endsWith("old")) mkdirSync(storage, { mode: 0o755 });
      const config = resolveConfig(
        {
          atSign: "@modes",
          port: "0",
          cert: tls.files.cert,
          key: tls.files.key,
          storage,
          logLevel: "silent",
        },
        {},
      );
      const server = AtServer.create(config, {});
      try {
        expect(statSync(storage).mode & 0o777, storage).to.equal(0o700);
        const files = ["", "-wal"].map((x) => join(storage, `store.sqlite${x}`));
        for (const f of files.filter((x) => statSync(x, { throwIfNoEntry: false })))
          expect(statSync(f).mode & 0o777, f).to.equal(0o600);
      } finally {
        await server.stop();
      }
    }
  });
});
