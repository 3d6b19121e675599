/** Writes and deletes directory records (`atsign` lower-case without '@', value `host:port`). */
export interface RecordWriter {
  set(atsign: string, hostPort: string): Promise<void>;
  delete(atsign: string): Promise<void>;
  /** Marks an empty dataset as complete (the atDirectory's sentinel; docs/directory.md). */
  markPopulated?(): Promise<void>;
  close?(): Promise<void>;
}

/** Asks the root where an atSign lives: `host:port`, or null. */
export type RootResolver = (atsign: string) => Promise<string | null>;

/** One health check of a freshly started atServer (`info:brief` over TLS); throws if unhealthy. */
export type HealthProbe = (atsign: string, host: string, port: number) => Promise<void>;
