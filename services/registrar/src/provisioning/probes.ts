import { AtClient, lookupAtServer } from "@atplatform/protocol";
import type { HealthProbe, RootResolver } from "./ports";

/** The production health check: TLS, `@` greeting, `info:brief` answered with `data:`. */
export function infoBriefProbe(opts: { ca?: string; timeoutMs?: number }): HealthProbe {
  return async (_atsign, host, port) => {
    const client = await AtClient.connect({
      host,
      port,
      ca: opts.ca,
      timeoutMs: opts.timeoutMs ?? 3000,
    });
    try {
      await client.execute("info:brief");
    } finally {
      client.destroy();
    }
  };
}

/** Asks the atDirectory over TLS, as clients do. */
export function rootResolver(opts: {
  host: string;
  port: number;
  ca?: string;
  timeoutMs?: number;
}): RootResolver {
  return async (atsign) => {
    const addr = await lookupAtServer(atsign, {
      host: opts.host,
      port: opts.port,
      ca: opts.ca,
      timeoutMs: opts.timeoutMs ?? 3000,
    });
    return addr ? `${addr.host}:${addr.port}` : null;
  };
}
