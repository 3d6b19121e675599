// Pushes notification lines to monitor connections (`notification: <json>\n`, no prompt).
import type { Connection } from "./connection";
import type { ConnectionPool } from "./connection-pool";
import type { Session } from "./session";
import { mayReceive } from "../apkam/command-policy";

const LINE_PREFIX = "notification: ";

/**
 * Runs `fn` (the monitor verb, whose epoch replay writes straight to the session) letting
 * through only the notification lines whose key `allow`s; other writes pass untouched.
 */
export async function filterNotificationWrites<T>(
  s: Session,
  allow: (key: string) => boolean,
  fn: () => T | Promise<T>,
): Promise<T> {
  const write = s.write;
  if (!write) return fn();
  s.write = (text) => {
    if (text.startsWith(LINE_PREFIX)) {
      try {
        const n = JSON.parse(text.slice(LINE_PREFIX.length)) as { key?: unknown };
        if (typeof n.key === "string" && !allow(n.key)) return;
      } catch {
        // not a single notification line: pass it on
      }
    }
    write(text);
  };
  try {
    return await fn();
  } finally {
    s.write = write;
  }
}

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
    const line = `${LINE_PREFIX}${JSON.stringify(n)}\n`;
    for (const c of this.monitors()) {
      const m = c.session.monitor!;
      if (opts.self && !m.selfNotifications) continue;
      if (!m.regex.test(n.key) && !m.regex.test(n.from.replace(/^@/, ""))) continue;
      // APKAM monitors see only keys their enrollment may read (§5.4).
      if (!mayReceive(c.session, n.key)) continue;
      c.push(line);
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
    for (const c of this.monitors()) c.push(line);
  }
}
