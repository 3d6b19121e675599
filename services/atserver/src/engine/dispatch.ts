// Turns one command line into one response: dispatch by prefix, grammar, access check,
// handler, and errors translated to the wire here and only here.
import {
  AtError,
  AuthFailedError,
  DataStoreError,
  EnrollmentStateError,
  errorLine,
  identifyVerb,
  InternalServerException,
  InvalidSyntaxError,
  normalizeCommand,
  parseCommand,
} from "@atplatform/protocol/src/core";
import type { ServerContext } from "../context";
import type { Session } from "./session";
import { allowed, type VerbHandler } from "./verb";
import { runBatch } from "../verbs/batch";
import { checkCommand, filterResult, mayReceive } from "../apkam/command-policy";
import { filterNotificationWrites } from "./monitors";

/** What the connection writes: `line` gets the prompt appended, `raw` is written as is. */
export interface Outcome {
  line?: string;
  raw?: string;
  close?: boolean;
}

/** Result of one command inside a batch. */
export type CommandResult = { data: string } | { error: AtError };

export class Dispatcher {
  constructor(
    private readonly ctx: ServerContext,
    private readonly handlers: Readonly<Record<string, VerbHandler>>,
  ) {}

  async run(session: Session, raw: string): Promise<Outcome> {
    if (raw === "@exit") return { close: true };
    // Our choice for the delay after `enroll:revoke:force` of one's own enrollment: the
    // connection no longer serves anything (the reference keeps serving until the close).
    if (session.revokedSelf) {
      const err = new EnrollmentStateError(
        "AT0027",
        `enrollment_id: ${session.enrollmentId} is revoked`,
      );
      return { line: errorLine(err, { authenticated: session.isOwner, json: session.jsonErrors }) };
    }
    // Backstop for the enrollment guard: an APKAM connection whose enrollment was revoked or
    // expired is closed without a reply.
    if (this.ctx.enrollments && !this.ctx.enrollments.stillValid(session)) return { close: true };
    const r = await this.execute(session, raw, false);
    if ("error" in r) {
      const line = errorLine(r.error, { authenticated: session.isOwner, json: session.jsonErrors });
      return { line, close: r.error.closeConnection };
    }
    return r.outcome;
  }

  /** Runs one command and reports data or error (used directly by `batch`). */
  async execute(
    session: Session,
    raw: string,
    inBatch: boolean,
  ): Promise<{ outcome: Outcome } | { error: AtError }> {
    const metrics = this.ctx.metrics;
    if (!metrics) return this.executeOne(session, raw, inBatch);
    const started = performance.now();
    const failures = session.authFailures;
    const seen: { verb?: string } = {};
    const r = await this.executeOne(session, raw, inBatch, seen);
    const verb = seen.verb ?? "invalid";
    metrics.verb(verb, "error" in r ? r.error.code : "ok", (performance.now() - started) / 1000);
    if (session.authFailures > failures) metrics.authFailure(verb);
    return r;
  }

  private async executeOne(
    session: Session,
    raw: string,
    inBatch: boolean,
    seen: { verb?: string } = {},
  ): Promise<{ outcome: Outcome } | { error: AtError }> {
    try {
      const line = normalizeCommand(raw);
      const spec = identifyVerb(line);
      if (!spec) throw new InvalidSyntaxError("invalid command");
      const handler = this.handlers[spec.verb];
      // Only known verb names become metric labels.
      seen.verb = handler ? spec.verb : "unknown";
      if (!handler) throw new InvalidSyntaxError(`${spec.verb} is not supported`);
      // As the reference: a verb that needs authentication refuses before reading its syntax,
      // except those with their own refusal text (notify), which read it first.
      const mayRun = allowed(handler.access, session);
      if (!mayRun && !handler.unauthenticated) {
        throw new AuthFailedError("Command cannot be executed without auth");
      }
      const parsed = parseCommand(line);
      if (!parsed) throw new InvalidSyntaxError("invalid command");
      if (inBatch && (parsed.verb === "batch" || parsed.verb === "monitor")) {
        throw new InvalidSyntaxError(`${parsed.verb} cannot be batched`);
      }
      if (!mayRun) throw new AuthFailedError(handler.unauthenticated);
      this.ctx.log.verbs.debug({ verb: parsed.verb, session: session.id }, "command");
      checkCommand(this.ctx, session, parsed.verb, parsed.params as Record<string, unknown>);
      if (parsed.verb === "batch") {
        const json = await runBatch(parsed.params.json as string, (l) =>
          this.execute(session, l, true),
        );
        return { outcome: { line: `data:${json}` } };
      }
      const result =
        parsed.verb === "monitor" && session.auth === "apkam"
          ? // The epoch replay happens inside the handler: same namespace rule as live pushes.
            await filterNotificationWrites(
              session,
              (key) => mayReceive(session, key),
              () => handler.handle(this.ctx, session, parsed.params),
            )
          : await handler.handle(this.ctx, session, parsed.params);
      if (typeof result === "string") {
        return { outcome: { line: `data:${filterResult(session, parsed.verb, result)}` } };
      }
      if ("raw" in result) return { outcome: { raw: result.raw } };
      return { outcome: {} };
    } catch (err) {
      return { error: this.toAtError(err, session) };
    }
  }

  private toAtError(err: unknown, session: Session): AtError {
    if (err instanceof AtError) return err;
    const e = err as Error;
    if (e?.name === "SqliteError" || e?.name === "StoreClosedError") {
      this.ctx.log.store.error({ err: e, session: session.id }, "storage failure");
      return new DataStoreError("storage failure");
    }
    this.ctx.log.verbs.error({ err: e, session: session.id }, "unexpected error in verb");
    return new InternalServerException("internal error");
  }
}
