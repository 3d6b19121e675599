// Pushes notification lines to monitor connections (`notification: <json>\n`, no prompt).
import type { Connection } from "./connection";
import type { ConnectionPool } from "./connection-pool";

export interface NotificationJson {
  id: string;
  from: string;
  to: string;
  key: string;
  value: string | null;
  operation: string;
  epochMillis: number;
  messageType: string;
  isEncrypted: boolean;
  metadata: Record<string, unknown> | null;
}

export class MonitorHub {
  constructor(private readonly pool: ConnectionPool) {}

  private *monitors(): Generator<Connection> {
    for (const c of this.pool) if (c.session.monitor && !c.isClosed) yield c;
  }

  get count(): number {
    let n = 0;
    for (const _ of this.monitors()) n++;
    return n;
  }

  /** To every monitor whose regex matches the key or the sender (without `@`). */
  push(n: NotificationJson, opts: { self?: boolean } = {}): void {
    const line = `notification: ${JSON.stringify(n)}\n`;
    for (const c of this.monitors()) {
      const m = c.session.monitor!;
      if (opts.self && !m.selfNotifications) continue;
      if (!m.regex.test(n.key) && !m.regex.test(n.from.replace(/^@/, ""))) continue;
      c.write(line);
    }
  }

  /** Stats notifications go to every monitor, unfiltered (§3.18). */
  pushStats(
    atSign: string,
    lastCommitId: number,
    operation: "update" | "delete",
    now: number,
  ): void {
    const n: NotificationJson = {
      id: "-1",
      from: atSign,
      to: atSign,
      key: `statsNotification.${atSign}`,
      value: String(lastCommitId),
      operation,
      epochMillis: now,
      messageType: "MessageType.key",
      isEncrypted: false,
      metadata: null,
    };
    const line = `notification: ${JSON.stringify(n)}\n`;
    for (const c of this.monitors()) c.write(line);
  }
}
