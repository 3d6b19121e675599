// A sandbox for running the real, rendered swarm startup script here: stand-ins for the
// commands that need a cloud VM (docker, gcloud, the metadata server, mount, systemd, apt)
// are put first on PATH. They keep their state in files and log every call, so a test can
// set the scene (secrets, swarm state, nodes, services) and inspect what the script did.
import { execFile } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SwarmScriptVars } from "../../components/swarm-script";

const STUB = String.raw`#!/usr/bin/env bash
# One stand-in for many commands; dispatches on the name it is called by.
set -u
S="$STUB_STATE"
cmd="$(basename "$0")"
printf '%s %s\n' "$cmd" "$*" >>"$S/calls.log"
arg() { local k="$1"; shift; for a in "$@"; do case "$a" in "$k"=*) printf '%s' "${"${a#*=}"}";; esac; done; }
case "$cmd" in
  curl)
    case "$*" in
      */service-accounts/default/token) printf '{"access_token":"%s","expires_in":3599,"token_type":"Bearer"}' "$STUB_TOKEN" ;;
      *) printf '%s' "$STUB_IP" ;;
    esac ;;
  hostname) printf '%s\n' "$STUB_HOSTNAME" ;;
  mountpoint) [[ -e "$S/mounted" ]] ;;
  mount) touch "$S/mounted" ;;
  umount) rm -f "$S/mounted" ;;
  mount.nfs|systemctl|apt-get|certbot) exit 0 ;;
  gcloud)
    case "$1 $2 $3" in
      "secrets versions access")
        name="$(arg --secret "$@")"
        if [[ -f "$S/denied-$name" ]] && [[ "$(cat "$S/denied-$name")" -gt 0 ]]; then
          echo "$(( $(cat "$S/denied-$name") - 1 ))" >"$S/denied-$name"
          echo "ERROR: (gcloud.secrets.versions.access) PERMISSION_DENIED: Permission denied on secret" >&2; exit 1; fi
        if [[ -f "$S/secrets/$name" ]]; then cat "$S/secrets/$name"; else
          echo "ERROR: (gcloud.secrets.versions.access) NOT_FOUND: Secret [$name] has no versions" >&2; exit 1; fi ;;
      "secrets versions add")
        file="$(arg --data-file "$@")"
        if [[ "$file" == - ]]; then cat >"$S/secrets/$4"; else cp "$file" "$S/secrets/$4"; fi ;;
      "filestore backups describe") [[ -e "$S/backups/$4" ]] ;;
      "filestore backups create") touch "$S/backups/$4" ;;
      "filestore backups delete") rm -f "$S/backups/$4" ;;
      "filestore backups list") for b in "$S"/backups/*; do [[ -e "$b" ]] && echo "projects/p/locations/r/backups/$(basename "$b")"; done ;;
      *) echo "gcloud stub: unexpected $*" >&2; exit 2 ;;
    esac ;;
  docker)
    case "$1 ${"${2:-}"}" in
      "info --format") cat "$S/swarm_state" 2>/dev/null || echo inactive ;;
      "swarm init") echo active >"$S/swarm_state"; echo "10.0.0.0/24" >"$S/ingress" ;;
      "network inspect") [[ -s "$S/ingress" ]] && cat "$S/ingress" ;;
      "network rm") read -r answer; [[ "$answer" == y ]] && rm -f "$S/ingress" ;;
      "network create") sub=""; prev=""; for a in "$@"; do [[ "$prev" == --subnet ]] && sub="$a"; prev="$a"; done; echo "$sub" >"$S/ingress" ;;
      "image inspect") grep -qxF "$3" "$S/images" 2>/dev/null ;;
      "login -u")
        tok="$(cat)"
        [[ "$tok" == "$STUB_TOKEN" && -n "${"${DOCKER_CONFIG:-}"}" ]] || exit 1
        printf '{"auths":{"%s":{"auth":"%s"}}}' "${"${!#}"}" "$tok" >"$DOCKER_CONFIG/config.json" ;;
      "pull -q")
        grep -qF "$STUB_TOKEN" "${"${DOCKER_CONFIG:-/nonexistent}"}/config.json" 2>/dev/null || exit 1
        grep -qxF "$3" "$S/registry" 2>/dev/null || exit 1
        echo "$3" >>"$S/images" ;;
      "swarm leave") echo inactive >"$S/swarm_state" ;;
      "swarm join-token") echo "SWMTKN-1-${"${!#}"}token0123456789-abcdef0123" ;;
      "swarm join")
        addr="${"${!#}"}"
        if grep -qxF "$addr" "$S/reachable" 2>/dev/null; then echo active >"$S/swarm_state"; else exit 1; fi ;;
      "node ls") cat "$S/nodes" 2>/dev/null || true ;;
      "node rm"|"node demote") ;;
      "secret inspect") [[ -e "$S/dsecrets/$3" ]] ;;
      "secret create") name="${"${@: -2:1}"}"; cat >"$S/dsecrets/$name" ;;
      "secret ls") ls "$S/dsecrets" ;;
      "secret rm") rm -f "$S/dsecrets/$3" ;;
      "service ls") cat "$S/services" 2>/dev/null || true ;;
      "service inspect") cat "$S/svc/${"${!#}"}" ;;
      "service update") ;;
      *) echo "docker stub: unexpected $*" >&2; exit 2 ;;
    esac ;;
  *) echo "stub: unknown $cmd" >&2; exit 2 ;;
esac
`;

/** The access token the stand-in metadata server hands out (the registry accepts only it). */
export const SANDBOX_REGISTRY_TOKEN = "ya29.sandbox-token-0123456789";

const COMMANDS = [
  "curl",
  "hostname",
  "mountpoint",
  "mount",
  "umount",
  "mount.nfs",
  "systemctl",
  "apt-get",
  "certbot",
  "gcloud",
  "docker",
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class SwarmSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "atp-swarm-"));
  readonly state = join(this.dir, "state");
  /** Stands in for the VM's / (ATP_ROOT). */
  readonly root = join(this.dir, "root");
  private readonly bin = join(this.dir, "bin");

  constructor(
    readonly hostname: string,
    readonly ip: string,
  ) {
    for (const d of [
      this.bin,
      this.root,
      this.state,
      ...["secrets", "backups", "dsecrets", "svc"].map((x) => join(this.state, x)),
    ])
      mkdirSync(d, { recursive: true });
    const stub = join(this.bin, "stub");
    writeFileSync(stub, STUB);
    chmodSync(stub, 0o755);
    for (const c of COMMANDS) symlinkSync(stub, join(this.bin, c));
  }

  secret(name: string, value?: string): string | undefined {
    const f = join(this.state, "secrets", name);
    if (value !== undefined) writeFileSync(f, value);
    return existsSync(f) ? readFileSync(f, "utf8") : undefined;
  }

  write(name: string, text: string): void {
    writeFileSync(join(this.state, name), text);
  }

  read(name: string): string {
    const f = join(this.state, name);
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }

  list(dir: string): string[] {
    return readdirSync(join(this.state, dir)).sort();
  }

  calls(prefix = ""): string[] {
    return this.read("calls.log")
      .split("\n")
      .filter((l) => l && l.startsWith(prefix));
  }

  file(path: string): string {
    return readFileSync(join(this.root, path), "utf8");
  }

  mode(path: string): number {
    return statSync(join(this.root, path)).mode & 0o777;
  }

  /** Every file under the VM root whose content includes `needle`. */
  filesContaining(needle: string): string[] {
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && readFileSync(p, "utf8").includes(needle)) hits.push(p);
      }
    };
    walk(this.root);
    return hits;
  }

  /** Files the script left in its temporary directory whose content includes `needle`. */
  tmpFilesContaining(needle: string): string[] {
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (p === this.state || p === this.root || p === this.bin) continue;
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && readFileSync(p, "utf8").includes(needle)) hits.push(p);
      }
    };
    walk(this.dir);
    return hits;
  }

  /** Runs the rendered script (`script` text) with `command`, like GCE or the timer would. */
  run(script: string, command = "boot", env: Record<string, string> = {}): Promise<RunResult> {
    const file = join(this.dir, "startup-script.sh");
    writeFileSync(file, script, { mode: 0o755 });
    return new Promise((resolve) => {
      execFile(
        "bash",
        [file, command],
        {
          env: {
            PATH: `${this.bin}:/usr/bin:/bin:/usr/sbin:/sbin`,
            STUB_STATE: this.state,
            STUB_IP: this.ip,
            STUB_HOSTNAME: this.hostname,
            STUB_TOKEN: SANDBOX_REGISTRY_TOKEN,
            ATP_ROOT: this.root,
            ATP_RETRIES: "3",
            ATP_RETRY_DELAY: "0",
            TMPDIR: this.dir,
            ...env,
          },
          timeout: 20_000,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The rendered variables of swarm "swarm1" as the sandbox tests use them. */
export function sandboxScriptVars(
  role: "manager" | "worker",
  extra: Partial<SwarmScriptVars> = {},
): SwarmScriptVars {
  return {
    swarm: "swarm1",
    role,
    project: "test-proj",
    region: "europe-west2",
    swarmDomain: "swarm1.dev.atplatform.example",
    managerIps: ["10.12.0.10", "10.12.0.11", "10.12.0.12"],
    nfsServer: "10.60.8.2",
    nfsShare: "atservers",
    dockerSecretPrefix: "swarm1-docker",
    tlsSecretPrefix: "swarm1-tls",
    tlsMode: "private-ca",
    imagesSecret: "swarm1-images",
    aptSnapshot: "20261101T000000Z",
    opsAgentVersion: "2.58.0",
    ...extra,
  };
}
