// enroll and otp (Part B §3.26, §3.27).
import {
  IllegalArgumentsError,
  InternalServerException,
  type EnrollParams,
  type OtpParams,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { VerbHandler } from "../engine/verb";
import type { EnrollRequest, Enrollments } from "../apkam/enrollments";
import { hasManage } from "../apkam/access";

function enrollments(ctx: ServerContext): Enrollments {
  if (!ctx.enrollments) throw new InternalServerException("enrollment is not available");
  return ctx.enrollments;
}

export const enroll: VerbHandler<EnrollParams> = {
  access: ["U", "A"],
  async handle(ctx, s, p) {
    let req: EnrollRequest = {};
    if (p.json !== undefined) {
      try {
        req = JSON.parse(p.json) as EnrollRequest;
      } catch {
        throw new IllegalArgumentsError("enroll needs a JSON object");
      }
    } else if (p.op !== "list") {
      throw new IllegalArgumentsError("Enroll parameters not provided");
    }
    const e = enrollments(ctx);
    switch (p.op) {
      case "request":
        return JSON.stringify(await e.request(s, req));
      case "list":
        return JSON.stringify(e.list(s, req));
      case "fetch":
        return JSON.stringify(e.fetch(s, req));
      default:
        return JSON.stringify(e.change(s, p.op, req, p.force === true));
    }
  },
};

export const otp: VerbHandler<OtpParams> = {
  access: ["A"],
  handle(ctx, s, p) {
    const ttl = p.ttl !== undefined ? Number(p.ttl) : undefined;
    if (p.op === "get") return enrollments(ctx).newOtp(ttl);
    // §3.26: a semi-permanent passcode needs the enrollment's own `__manage` grant (r or rw,
    // as the reference; `*` does not count). An OTP is single-use and grants nothing by itself.
    if (!hasManage(s)) {
      throw new InternalServerException("Client not allowed to not store semi permanent pass code");
    }
    if (!p.code) throw new InternalServerException("otp:put requires a passcode");
    enrollments(ctx).putSpp(p.code, ttl);
    return "ok";
  },
};
