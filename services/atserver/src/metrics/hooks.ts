// What the engine reports to the metrics, when they are on. Types only: the engine imports
// this file, never the implementation (metrics/exporter.ts), which is loaded only when
// --metrics-port is set so that an atServer without metrics carries none of its code.

export interface MetricsHooks {
  /** One command: its verb (a known verb name, "unknown" or "invalid") and result code. */
  verb(verb: string, result: string, seconds: number): void;
  /** A failed cram/pkam (counted by the session) on a verb. */
  authFailure(verb: string): void;
  /** An inbound connection admitted or refused (by the pool's reason). */
  connection(event: string): void;
}
