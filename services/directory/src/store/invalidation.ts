// The invalidation message the writer publishes with every record change:
// `<atsign>\n<host:port>` after a SET, `<atsign>\n` after a DEL. Carrying the new value
// matters behind a load-balanced read endpoint: the subscription and the reads may be
// on different replicas, and a read from a replica that has not applied the change yet
// would otherwise put the old answer back into the cache. A bare `<atsign>` (older
// writers) only drops the cached entry.

export interface Invalidation {
  atsign: string;
  /** The new value, null when deleted; undefined when the message does not say. */
  value?: string | null;
}

export function formatInvalidation(atsign: string, value: string | null): string {
  return `${atsign}\n${value ?? ""}`;
}

export function parseInvalidation(message: string): Invalidation {
  const nl = message.indexOf("\n");
  if (nl < 0) return { atsign: message };
  const value = message.slice(nl + 1);
  return { atsign: message.slice(0, nl), value: value === "" ? null : value };
}
