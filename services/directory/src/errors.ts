// Error classes of the directory. The session translates them to the wire in one
// place (session.ts): a StoreUnavailableError closes the connection without an answer,
// because clients read `null` as "this atSign does not exist".

/** The configuration is invalid; the message says which flag/env and why. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The store (or upstream) could not answer; the caller must not answer `null`. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A records file line that is not `atsign host:port`. */
export class RecordsFormatError extends Error {
  override name = "RecordsFormatError";
}
