/** Another process (or another handle in this process) holds the store's exclusive lock. */
export class StoreLockedError extends Error {
  override name = "StoreLockedError";
  constructor(
    readonly path: string,
    /** Who opened it last, from the owner file (informational, may be stale). */
    readonly holder?: StoreOwner,
    options?: { cause?: unknown },
  ) {
    const who = holder
      ? ` (held by pid ${holder.pid} on ${holder.host} since ${new Date(holder.openedAt).toISOString()})`
      : "";
    super(`store ${path} is locked by another process${who}`, options);
  }
}

/** The database was written by a newer version of this code than the one running. */
export class StoreVersionError extends Error {
  override name = "StoreVersionError";
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(`store ${path} has schema version ${found}; this build supports up to ${supported}`);
  }
}

/** The database could not be opened for another reason than the lock (path, permissions). */
export class StoreOpenError extends Error {
  override name = "StoreOpenError";
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot open store ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** A method was called after close(). */
export class StoreClosedError extends Error {
  override name = "StoreClosedError";
  constructor() {
    super("store is closed");
  }
}

export interface StoreOwner {
  pid: number;
  host: string;
  openedAt: number;
}
