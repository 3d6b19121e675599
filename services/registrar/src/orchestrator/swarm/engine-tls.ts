import { readFileSync, statSync } from "node:fs";

/** The registrar's Engine API credentials for one swarm (PEM texts). */
export interface EngineTlsPems {
  ca: string;
  cert: string;
  key: string;
}

/** Where those credentials are mounted (the swarms file's caFile, certFile, keyFile). */
export type EngineTlsFiles = EngineTlsPems;

/**
 * The Engine API client credentials, re-read when their files change. `pulumi up` re-issues
 * the registrar's client certificate (and the CA bundle) before expiry and Kubernetes swaps
 * the mounted Secret's files in place, so a long-running registrar must not keep the texts
 * it read at start. Each check costs three stat calls; a half-written or unreadable set
 * keeps the previous credentials until the next check.
 */
export class EngineTlsSource {
  private stamp: string | undefined;

  constructor(
    private pems: EngineTlsPems,
    private readonly files?: EngineTlsFiles,
  ) {
    this.stamp = this.files && stampOf(this.files);
  }

  /** The credentials to open the next connection with; `changed` when they were re-read. */
  current(): { pems: EngineTlsPems; changed: boolean } {
    if (!this.files) return { pems: this.pems, changed: false };
    const stamp = stampOf(this.files);
    if (stamp === undefined || stamp === this.stamp) return { pems: this.pems, changed: false };
    const next = readPems(this.files);
    if (!next) return { pems: this.pems, changed: false };
    this.stamp = stamp;
    const changed =
      next.ca !== this.pems.ca || next.cert !== this.pems.cert || next.key !== this.pems.key;
    this.pems = next;
    return { pems: next, changed };
  }
}

// Inode, size and mtime of each file, following symlinks (a Kubernetes Secret volume
// re-points its ..data link, which changes the inode behind the same path).
function stampOf(files: EngineTlsFiles): string | undefined {
  try {
    return [files.ca, files.cert, files.key]
      .map((f) => {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      })
      .join("|");
  } catch {
    return undefined;
  }
}

function readPems(files: EngineTlsFiles): EngineTlsPems | undefined {
  try {
    const pems = {
      ca: readFileSync(files.ca, "utf8"),
      cert: readFileSync(files.cert, "utf8"),
      key: readFileSync(files.key, "utf8"),
    };
    const complete = Object.values(pems).every((p) => /-----END [A-Z ]+-----/.test(p));
    return complete ? pems : undefined;
  } catch {
    return undefined;
  }
}
