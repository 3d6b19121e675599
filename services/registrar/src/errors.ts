// Errors carry an HTTP status and a short public message; http/respond.ts is the one
// place that turns them into a page or a JSON body.
export class RegistrarError extends Error {
  override name = "RegistrarError";
  constructor(
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}

export class BadRequestError extends RegistrarError {
  override name = "BadRequestError";
  constructor(message: string) {
    super(message, 400);
  }
}

export class UnauthorizedError extends RegistrarError {
  override name = "UnauthorizedError";
  constructor(message = "authentication required") {
    super(message, 401);
  }
}

export class ForbiddenError extends RegistrarError {
  override name = "ForbiddenError";
  constructor(message = "forbidden") {
    super(message, 403);
  }
}

export class NotFoundError extends RegistrarError {
  override name = "NotFoundError";
  constructor(message = "not found") {
    super(message, 404);
  }
}

export class MethodNotAllowedError extends RegistrarError {
  override name = "MethodNotAllowedError";
  constructor(readonly allow: string[]) {
    super("method not allowed", 405);
  }
}

export class ConflictError extends RegistrarError {
  override name = "ConflictError";
  constructor(message: string) {
    super(message, 409);
  }
}

export class PayloadTooLargeError extends RegistrarError {
  override name = "PayloadTooLargeError";
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`, 413);
  }
}

export class UnsupportedMediaTypeError extends RegistrarError {
  override name = "UnsupportedMediaTypeError";
  constructor(expected: string) {
    super(`expected a ${expected} body`, 415);
  }
}

export class TooManyRequestsError extends RegistrarError {
  override name = "TooManyRequestsError";
  constructor(message = "too many requests, try again later") {
    super(message, 429);
  }
}

export class UnavailableError extends RegistrarError {
  override name = "UnavailableError";
  constructor(message: string) {
    super(message, 503);
  }
}

/** Provisioning could not reach its goal (atServer never healthy, no free port, ...). */
export class ProvisioningError extends Error {
  override name = "ProvisioningError";
}

/** Retrying cannot help (the atServer refuses its configuration, the name is invalid, ...). */
export class PermanentProvisioningError extends ProvisioningError {
  override name = "PermanentProvisioningError";
}
