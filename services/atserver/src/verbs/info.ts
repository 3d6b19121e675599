// info, info:brief (the health probe) and noop (Part B §3.21, §3.22).
import {
  IllegalArgumentsError,
  type InfoParams,
  type NoopParams,
} from "@atplatform/protocol/src/core";
import type { VerbHandler } from "../engine/verb";

function uptimeWords(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)} hours ${Math.floor((s % 3600) / 60)} minutes ${s % 60} seconds`;
}

export const info: VerbHandler<InfoParams> = {
  access: ["U"],
  handle(ctx, s, p) {
    const up = ctx.now() - ctx.startedAt;
    if (p.brief) return JSON.stringify({ version: ctx.version, uptimeAsMillis: up });
    const out: Record<string, unknown> = { version: ctx.version, uptimeAsWords: uptimeWords(up) };
    const rec = s.enrollmentId ? ctx.enrollments?.find(s.enrollmentId) : undefined;
    if (rec) {
      out.apkam_metadata = {
        appName: rec.appName,
        deviceName: rec.deviceName,
        namespaces: rec.namespaces,
        sessionId: rec.sessionId,
        apkamPublicKey: rec.apkamPublicKey,
        status: rec.approval.state,
      };
    }
    return JSON.stringify(out);
  },
};

const NOOP_MAX_MS = 5000;

export const noop: VerbHandler<NoopParams> = {
  access: ["U"],
  async handle(_ctx, _s, p) {
    const ms = Number(p.ms);
    if (ms > NOOP_MAX_MS) {
      throw new IllegalArgumentsError(
        `noop:<durationInMillis> where the duration maximum is ${NOOP_MAX_MS} milliseconds`,
      );
    }
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return "ok";
  },
};
