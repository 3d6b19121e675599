// Images for the real-engine tests, made offline (no registry is reachable here): a small
// base image from this machine's own Node binary, /bin/sh and the few tools the storage jobs
// use, each with the shared libraries it links, `docker import`ed; then the atserver,
// directory and registrar images built from their real Dockerfiles on that base, with
// DEPS=prebuilt: node_modules (the workspace's production closure from this checkout, which
// includes better-sqlite3's compiled addon) and the atServer bundle come from the context.
// Built images are cached by content hash as `docker save` archives, so reruns load them.
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { run, which } from "./exec";
import type { TestDockerd } from "./dockerd";

export const REPO_ROOT = resolve(__dirname, "..", "..", "..");
const CACHE = join(REPO_ROOT, "node_modules", ".cache", "atplatform-test-images");
// Bump when the way images are made changes (the hashes cover their inputs' contents).
const RECIPE = "3";

export type ServiceName = "atserver" | "directory" | "registrar";

/** Tools the storage jobs' script runs (see service-spec.ts): the base image doubles as job image. */
const TOOLS = ["sh", "mkdir", "chown", "chmod", "mv"];

const PASSWD = "root:x:0:0:root:/root:/bin/sh\natserver:x:1024:1024::/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\natserver:x:1024:\n";

/** The host paths of the base image: node, the tools, and what they link (symlinks kept). */
async function basePaths(withNode: boolean): Promise<string[]> {
  const tools = TOOLS.map((t) => which(t));
  const missing = TOOLS.filter((_, i) => !tools[i]);
  if (missing.length > 0) throw new Error(`base image: missing tools ${missing.join(", ")}`);
  const bins = withNode ? [which("node") ?? process.execPath, ...tools] : tools;
  const paths = new Set<string>();
  for (const bin of bins as string[]) {
    addWithLinks(bin, paths);
    const ldd = (await run("ldd", [bin])).stdout;
    for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) addWithLinks(m[1]!, paths);
    for (const m of ldd.matchAll(/=> (\/\S+)/g)) addWithLinks(m[1]!, paths);
  }
  // The tools by their usual names even where they live in /usr/bin only.
  for (const t of TOOLS)
    for (const d of ["/bin", "/usr/bin"])
      if (existsSync(join(d, t))) addWithLinks(join(d, t), paths);
  // Their directories too, so they keep the host's modes (an implied parent may come out
  // as 0700, which the image's non-root user could not search).
  for (const p of [...paths])
    for (let d = dirname(p); d !== "/"; d = dirname(d))
      if (!lstatSync(d).isSymbolicLink()) paths.add(d);
  return [...paths].sort();
}

/** Adds `p`, every symlink on the way to it and the file it ends at. */
function addWithLinks(p: string, out: Set<string>): void {
  const parts = p.split("/").filter(Boolean);
  let cur = "/";
  for (let i = 0; i < parts.length; i++) {
    const next = join(cur, parts[i]!);
    if (lstatSync(next).isSymbolicLink()) {
      out.add(next);
      const target = resolve(dirname(next), readlinkSync(next));
      addWithLinks(join(target, ...parts.slice(i + 1)), out);
      return;
    }
    cur = next;
  }
  out.add(cur);
}

function hashFiles(
  h: ReturnType<typeof createHash>,
  root: string,
  rels: string[],
  recurse = true,
): void {
  for (const rel of rels) {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    h.update(`\0${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(abs));
    else if (st.isFile()) h.update(readFileSync(abs));
    else if (st.isDirectory() && recurse)
      hashFiles(
        h,
        root,
        readdirSync(abs)
          .sort()
          .map((n) => join(rel, n)),
      );
  }
}

/** Loads `tag` from the cache if it is there. */
async function fromCache(d: TestDockerd, tag: string): Promise<boolean> {
  if (await hasImage(d, tag)) return true;
  const file = join(CACHE, `${tag.replace(/[/:]/g, "_")}.tar`);
  if (!existsSync(file)) return false;
  await d.docker(["load", "-q", "-i", file], { timeoutMs: 600_000 });
  return hasImage(d, tag);
}

/** Loads an image built earlier in this run (it is in the cache) onto another dockerd. */
export async function loadBuiltImage(d: TestDockerd, tag: string): Promise<void> {
  if (!(await fromCache(d, tag)))
    throw new Error(`image ${tag} is not in ${CACHE}: build it first`);
}

async function toCache(d: TestDockerd, tag: string): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${tag.replace(/[/:]/g, "_")}.tar`);
  // One archive per image name: older builds of it go.
  const prefix = `${tag.split(":")[0]!.replace(/\//g, "_")}_`;
  for (const old of readdirSync(CACHE))
    if (old.startsWith(prefix)) rmSync(join(CACHE, old), { force: true });
  await d.docker(["save", "-o", `${file}.part`, tag], { timeoutMs: 600_000 });
  renameSync(`${file}.part`, file);
}

async function hasImage(d: TestDockerd, tag: string): Promise<boolean> {
  return d
    .docker(["image", "inspect", tag])
    .then(() => true)
    .catch(() => false);
}

/** The base image (Node + sh + the storage jobs' tools, uid 1024 named atserver): its tag. */
export function baseImage(d: TestDockerd): Promise<string> {
  return importImage(d, "base", true);
}

/**
 * The storage jobs' image: sh and its tools without Node (a few MB: vfs copies an image for
 * every container, and each provision and delete runs a job).
 */
export function jobImage(d: TestDockerd): Promise<string> {
  return importImage(d, "jobs", false);
}

async function importImage(d: TestDockerd, name: string, withNode: boolean): Promise<string> {
  const paths = await basePaths(withNode);
  const h = createHash("sha256").update(`${name} ${RECIPE}\n${PASSWD}${GROUP}`);
  hashFiles(
    h,
    "/",
    paths.map((p) => p.slice(1)),
    false,
  );
  const tag = `atplatform-test/${name}:${h.digest("hex").slice(0, 16)}`;
  if (await fromCache(d, tag)) return tag;
  const dir = mkdtempSync(join(tmpdir(), "atp-base-"));
  try {
    mkdirSync(join(dir, "etc"));
    mkdirSync(join(dir, "tmp"), { mode: 0o1777 });
    writeFileSync(join(dir, "etc", "passwd"), PASSWD);
    writeFileSync(join(dir, "etc", "group"), GROUP);
    const tar = join(dir, "base.tar");
    await run("tar", [
      "-cf",
      tar,
      "--no-recursion",
      "-C",
      dir,
      "etc",
      "etc/passwd",
      "etc/group",
      "tmp",
      "-C",
      "/",
      ...paths.map((p) => p.slice(1)),
    ]);
    await d.docker(["import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", tar, tag], {
      timeoutMs: 300_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await toCache(d, tag);
  return tag;
}

// Build output and sources the production install would not have.
const MODULE_EXCLUDES = [
  "node_modules/better-sqlite3/deps",
  "node_modules/better-sqlite3/src",
  "node_modules/better-sqlite3/build/Release/obj",
  "node_modules/better-sqlite3/build/Release/obj.target",
  "node_modules/better-sqlite3/build/Release/.deps",
  "node_modules/better-sqlite3/build/Release/sqlite3.a",
  "node_modules/better-sqlite3/build/Release/test_extension.node",
  "node_modules/better-sqlite3/build/deps",
];

/** The workspaces a service's Dockerfile copies into its image. */
const SOURCES: Record<ServiceName, string[]> = {
  atserver: ["services/protocol", "services/atserver"],
  directory: ["services/protocol", "services/directory"],
  registrar: ["services/protocol", "services/directory", "services/registrar"],
};

/** The service's production node_modules closure as `npm ls` resolves it in this checkout. */
async function moduleClosure(svc: ServiceName): Promise<string[]> {
  const out = await run(
    "npm",
    ["ls", "--omit=dev", `--workspace=services/${svc}`, "--all", "--parseable"],
    { cwd: REPO_ROOT },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
  const rels = out.stdout
    .split("\n")
    .filter(Boolean)
    .map((p) => relative(REPO_ROOT, p))
    .filter((p) => p.startsWith("node_modules/"));
  if (rels.length === 0) throw new Error(`npm ls found no production modules for ${svc}`);
  // A nested module lies inside its parent's directory, which the archive takes whole.
  return [...new Set(rels)]
    .sort()
    .filter((p, i, all) => !all.slice(0, i).some((q) => p.startsWith(`${q}/`)));
}

/**
 * Builds `services/<svc>/Dockerfile` on the base image (or loads it from the cache) and
 * returns its tag.
 */
export async function serviceImage(
  d: TestDockerd,
  svc: ServiceName,
  base: string,
): Promise<string> {
  if (svc === "atserver")
    await run("npm", ["run", "bundle", "-w", "services/atserver"], { cwd: REPO_ROOT });
  const ctx = mkdtempSync(join(tmpdir(), `atp-ctx-${svc}-`));
  try {
    for (const src of SOURCES[svc])
      cpSync(join(REPO_ROOT, src), join(ctx, src), {
        recursive: true,
        filter: (p) => !p.includes("/node_modules"),
      });
    mkdirSync(join(ctx, ".prebuilt"));
    const modules = await moduleClosure(svc);
    const tarArgs = [
      "-cf",
      join(ctx, ".prebuilt", "app.tar"),
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      // Under app/ in the archive; symlink targets (workspace links) stay relative.
      "--transform=s,^,app/,S",
      ...MODULE_EXCLUDES.map((e) => `--exclude=${e}`),
      "-C",
      REPO_ROOT,
      ...modules,
    ];
    if (svc === "atserver") tarArgs.push("services/atserver/dist");
    await run("tar", tarArgs);
    const h = createHash("sha256").update(`${svc} ${RECIPE} ${base}\n`);
    hashFiles(h, ctx, [".prebuilt", ...SOURCES[svc]]);
    const tag = `atplatform-test/${svc}:${h.digest("hex").slice(0, 16)}`;
    if (await fromCache(d, tag)) return tag;
    await d.docker(
      [
        "build",
        "-q",
        "--build-arg",
        `NODE_IMAGE=${base}`,
        "--build-arg",
        "DEPS=prebuilt",
        "-f",
        join(ctx, "services", svc, "Dockerfile"),
        "-t",
        tag,
        ctx,
      ],
      { timeoutMs: 900_000 },
    );
    await toCache(d, tag);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}
