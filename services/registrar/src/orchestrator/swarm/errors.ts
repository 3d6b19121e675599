// Failures of a Docker Engine API call, by what the caller can do about them. The
// provisioning state machine treats every one as "retry later"; admins see the message.
export class EngineError extends Error {
  override name = "EngineError";
  constructor(
    message: string,
    /** The swarm whose engine was called. */
    readonly swarm: string,
    /** `METHOD /path` of the call. */
    readonly call: string,
  ) {
    super(`swarm ${swarm}: ${call}: ${message}`);
  }
}

/** Connection refused, DNS, TLS handshake or reset: the engine was not reached. */
export class EngineUnreachableError extends EngineError {
  override name = "EngineUnreachableError";
}

/** No complete answer within the call's time limit (the request was aborted). */
export class EngineTimeoutError extends EngineError {
  override name = "EngineTimeoutError";
}

/** HTTP 409: a service or secret of that name exists already. */
export class EngineConflictError extends EngineError {
  override name = "EngineConflictError";
}

/** HTTP 404: no such service, secret or task. */
export class EngineNotFoundError extends EngineError {
  override name = "EngineNotFoundError";
}

/** Any other non-success answer (400, 500, 503 "node is not a swarm manager", ...). */
export class EngineApiError extends EngineError {
  override name = "EngineApiError";
  constructor(
    message: string,
    swarm: string,
    call: string,
    readonly status: number,
  ) {
    super(message, swarm, call);
  }
}

/** A one-shot storage job (mkdir, archive) ended in failure or did not finish in time. */
export class StorageJobError extends EngineError {
  override name = "StorageJobError";
}
