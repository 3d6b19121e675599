// The replica verdict on INFO replication texts in the shape Redis 7 prints them. The
// states are reached with real processes in replica-trust.spec.ts; a full sync that stays
// in progress is not (it lasts as long as the transfer), so its rule is checked here.
import { expect } from "chai";
import { judge, parseInfo } from "../../services/directory/src/store/replica-health";

const replica = (fields: Record<string, string | number>) =>
  parseInfo(
    [
      "# Replication",
      "role:slave",
      "master_host:10.0.0.3",
      "master_port:6379",
      ...Object.entries(fields).map(([k, v]) => `${k}:${v}`),
      "slave_read_repl_offset:1234",
      "",
    ].join("\r\n"),
  );

describe("H6: replica verdict from INFO replication", () => {
  it("H6: a replica in full sync is unfit even with its old data and the sentinel key", () => {
    const info = replica({
      master_link_status: "down",
      master_last_io_seconds_ago: -1,
      master_sync_in_progress: 1,
      master_sync_total_bytes: 40_000_000,
      master_sync_read_bytes: 1_000_000,
    });
    expect(judge(info, true, 25_000).fitness).to.equal("unfit");
  });

  it("H6: link down or silent is degraded, in sync is ok, no sentinel is unfit", () => {
    const up = { master_link_status: "up", master_sync_in_progress: 0 };
    expect(judge(replica({ ...up, master_last_io_seconds_ago: 1 }), true, 25_000).fitness).to.equal(
      "ok",
    );
    expect(judge(replica({ ...up, master_last_io_seconds_ago: 30 }), true, 25_000)).to.include({
      fitness: "degraded",
    });
    const down = { master_link_status: "down", master_sync_in_progress: 0 };
    expect(judge(replica(down), true, 25_000).fitness).to.equal("degraded");
    expect(
      judge(replica({ ...up, master_last_io_seconds_ago: 1 }), false, 25_000).fitness,
    ).to.equal("unfit");
    expect(judge(parseInfo("# Replication\r\nrole:master\r\n"), true, 25_000).fitness).to.equal(
      "ok",
    );
  });
});
