// Every service image starts from a Node release line that is still supported, pinned by
// the manifest-list digest (a tag alone can be moved under us).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { REPO_ROOT } from "../../components/service-image";

/**
 * End of life of the even (LTS) Node release lines, from the Node.js release schedule
 * (https://github.com/nodejs/Release#release-schedule): a line is supported until then.
 */
const NODE_LTS_END_OF_LIFE: Record<number, string> = {
  20: "2026-04-30",
  22: "2027-04-30",
  24: "2028-04-30",
  26: "2029-04-30",
};

/** The default `NODE_IMAGE` build argument of a Dockerfile. */
function defaultNodeImage(dockerfile: string): string {
  const m = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile);
  if (!m) throw new Error("no ARG NODE_IMAGE default");
  return m[1]!;
}

/** Why `ref` is not a supported, digest-pinned Debian slim Node image on `day`, or undefined. */
function nodeImageProblem(ref: string, day: Date): string | undefined {
  const m = /^node:(\d+)-(bookworm|trixie)-slim@sha256:[a-f0-9]{64}$/.exec(ref);
  if (!m) return `${ref} is not node:<major>-<bookworm|trixie>-slim@sha256:<digest>`;
  const eol = NODE_LTS_END_OF_LIFE[Number(m[1])];
  if (!eol) return `Node ${m[1]} is not an LTS line`;
  if (day.getTime() >= Date.parse(eol)) return `Node ${m[1]} reached its end of life on ${eol}`;
  return undefined;
}

describe("components: Node runtime of the images", () => {
  const refs = ["directory", "atserver", "registrar"].map((svc) =>
    defaultNodeImage(readFileSync(join(REPO_ROOT, "services", svc, "Dockerfile"), "utf8")),
  );

  it("every Dockerfile starts from a supported Node LTS, pinned by digest", () => {
    for (const ref of refs) expect(nodeImageProblem(ref, new Date()), ref).to.equal(undefined);
  });

  it("all three images share one base image (one bump moves them together)", () => {
    expect(new Set(refs).size).to.equal(1);
  });

  it("the check refuses Node 20 after its end of life, a tag without digest, and odd lines", () => {
    const d = "@sha256:" + "a".repeat(64);
    const day = new Date("2026-12-03");
    expect(nodeImageProblem(`node:20-bookworm-slim${d}`, day)).to.contain("end of life");
    expect(nodeImageProblem("node:24-bookworm-slim", day)).to.contain("is not");
    expect(nodeImageProblem(`node:25-bookworm-slim${d}`, day)).to.contain("not an LTS");
    expect(nodeImageProblem(`node:24-trixie-slim${d}`, day)).to.equal(undefined);
  });
});
