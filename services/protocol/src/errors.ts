// atProtocol error codes as classes. `errorLine` is the one place that turns an error into
// the wire text; `errorFromLine` is the client's inverse.

/** Fixed description text per code (Part B §2.4). */
export const ERROR_DESCRIPTIONS = {
  AT0001: "Server exception",
  AT0002: "DataStore exception",
  AT0003: "Invalid syntax",
  AT0004: "Socket error",
  AT0005: "Buffer limit exceeded",
  AT0006: "Outbound connection limit exceeded",
  AT0007: "Secondary server not found",
  AT0008: "Handshake failure",
  AT0009: "UnAuthorized client in request",
  AT0010: "Internal server error",
  AT0011: "Internal server exception",
  AT0012: "Inbound connection limit exceeded",
  AT0013: "Connection Exception",
  AT0015: "key not found",
  AT0016: "Invalid key",
  AT0021: "Unable to connect to secondary",
  AT0022: "Illegal arguments",
  AT0023: "Timeout waiting for response",
  AT0024: "Server is paused",
  AT0025: "Apkam Auth Denied",
  AT0026: "Apkam Auth Failed",
  AT0027: "Apkam Access Revoked",
  AT0028: "Too Many Requests",
  AT0031: "Cannot revoke self enrollment",
  AT0401: "Client authentication failed",
} as const;

export type ErrorCode = keyof typeof ERROR_DESCRIPTIONS;

/** Base class: `code` picks the description; `closeConnection` asks the server to hang up. */
export class AtError extends Error {
  override name = "AtError";
  readonly closeConnection: boolean = false;
  /** Handler-level errors are written `error:<CODE>:<message>` (never JSON). */
  readonly colonFormat: boolean = false;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
  get description(): string {
    return ERROR_DESCRIPTIONS[this.code] ?? "Unknown error";
  }
}

export class DataStoreError extends AtError {
  override name = "DataStoreError";
  override readonly closeConnection = true;
  constructor(message: string) {
    super("AT0002", message);
  }
}

export class InvalidSyntaxError extends AtError {
  override name = "InvalidSyntaxError";
  constructor(message = "Invalid syntax") {
    super("AT0003", message);
  }
}

export class BufferLimitError extends AtError {
  override name = "BufferLimitError";
  override readonly closeConnection = true;
  constructor(message = "Buffer limit exceeded") {
    super("AT0005", message);
  }
}

export class OutboundLimitError extends AtError {
  override name = "OutboundLimitError";
  constructor(message = "Outbound connection limit exceeded") {
    super("AT0006", message);
  }
}

export class AtServerNotFoundError extends AtError {
  override name = "AtServerNotFoundError";
  constructor(message: string) {
    super("AT0007", message);
  }
}

export class HandshakeError extends AtError {
  override name = "HandshakeError";
  constructor(message: string) {
    super("AT0008", message);
  }
}

export class UnauthorizedError extends AtError {
  override name = "UnauthorizedError";
  constructor(message: string) {
    super("AT0009", message);
  }
}

export class InternalServerError extends AtError {
  override name = "InternalServerError";
  constructor(message: string) {
    super("AT0010", message);
  }
}

export class InternalServerException extends AtError {
  override name = "InternalServerException";
  override readonly closeConnection: boolean;
  constructor(message: string, opts: { close?: boolean } = {}) {
    super("AT0011", message);
    this.closeConnection = opts.close ?? false;
  }
}

export class InboundLimitError extends AtError {
  override name = "InboundLimitError";
  override readonly closeConnection = true;
  constructor(message = "Inbound connection limit exceeded") {
    super("AT0012", message);
  }
}

export class BlockedConnectionError extends AtError {
  override name = "BlockedConnectionError";
  override readonly closeConnection = true;
  constructor(message: string) {
    super("AT0013", message);
  }
}

export class KeyNotFoundError extends AtError {
  override name = "KeyNotFoundError";
  constructor(key: string, message = `${key} does not exist in keystore`) {
    super("AT0015", message);
  }
}

export class InvalidKeyError extends AtError {
  override name = "InvalidKeyError";
  constructor(message: string) {
    super("AT0016", message);
  }
}

export class ConnectFailedError extends AtError {
  override name = "ConnectFailedError";
  constructor(message: string) {
    super("AT0021", message);
  }
}

export class IllegalArgumentsError extends AtError {
  override name = "IllegalArgumentsError";
  constructor(message: string) {
    super("AT0022", message);
  }
}

export class TimeoutError extends AtError {
  override name = "TimeoutError";
  constructor(message: string) {
    super("AT0023", message);
  }
}

export class ServerPausedError extends AtError {
  override name = "ServerPausedError";
  override readonly closeConnection = true;
  constructor(message = "Server is paused") {
    super("AT0024", message);
  }
}

/** APKAM enrollment state errors (AT0025-AT0028), written in the colon format. */
export class EnrollmentStateError extends AtError {
  override name = "EnrollmentStateError";
  override readonly colonFormat = true;
  constructor(code: "AT0025" | "AT0026" | "AT0027" | "AT0028", message: string) {
    super(code, message);
  }
}

export class AuthFailedError extends AtError {
  override name = "AuthFailedError";
  override readonly closeConnection: boolean;
  constructor(message = "Authentication Failed", opts: { close?: boolean } = {}) {
    super("AT0401", message);
    this.closeConnection = opts.close ?? false;
  }
}

/** Any other code (used by the client when a server sends a code we have no class for). */
export class UnknownAtError extends AtError {
  override name = "UnknownAtError";
}

export interface ErrorLineOptions {
  /** The connection is authenticated: `<description> : <message>`, else `Exception: <message>`. */
  authenticated: boolean;
  /** Client asked for JSON errors (clientConfig version > 3.0.37). */
  json?: boolean;
}

/** The wire text of an error, without newline or prompt. */
export function errorLine(err: AtError, opts: ErrorLineOptions): string {
  const message = escapeControls(err.message);
  if (err.colonFormat) return `error:${err.code}:${message}`;
  const text = opts.authenticated ? `${err.description} : ${message}` : `Exception: ${message}`;
  if (opts.json) {
    return `error:${JSON.stringify({ errorCode: err.code, errorDescription: text })}`;
  }
  return `error:${err.code}-${text}`;
}

/**
 * `error:<CODE>-<description>`: the reference's line for a connection refused before it is
 * served (the inbound cap), with no message at all.
 */
export function refusalLine(err: AtError): string {
  return `error:${err.code}-${err.description}`;
}

const CLASS_BY_CODE: Partial<Record<string, new (message: string) => AtError>> = {
  AT0002: DataStoreError,
  AT0003: InvalidSyntaxError,
  AT0005: BufferLimitError,
  AT0006: OutboundLimitError,
  AT0007: AtServerNotFoundError,
  AT0008: HandshakeError,
  AT0009: UnauthorizedError,
  AT0010: InternalServerError,
  AT0011: InternalServerException,
  AT0012: InboundLimitError,
  AT0013: BlockedConnectionError,
  AT0016: InvalidKeyError,
  AT0021: ConnectFailedError,
  AT0022: IllegalArgumentsError,
  AT0023: TimeoutError,
  AT0024: ServerPausedError,
  AT0401: AuthFailedError,
};

/**
 * Messages echo what the client sent (key names, verbs): control characters (C0, DEL, C1)
 * and the Unicode line/paragraph separators are written as `\uXXXX`, so an error is always
 * one inert line (no injected `data:` line, no terminal escape sequences in logs or shells).
 */
export function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Parses `error:…` (any of the three wire forms) back into an error of the right class. */
export function errorFromLine(line: string): AtError {
  const body = line.startsWith("error:") ? line.slice("error:".length) : line;
  let code: string;
  let text: string;
  if (body.startsWith("{")) {
    try {
      const parsed = JSON.parse(body) as { errorCode?: string; errorDescription?: string };
      code = parsed.errorCode ?? "AT0011";
      text = parsed.errorDescription ?? "";
    } catch {
      code = "AT0011";
      text = body;
    }
  } else {
    const m = /^(AT\d{4})[-:](.*)$/s.exec(body);
    code = m?.[1] ?? "AT0011";
    text = m?.[2] ?? body;
  }
  let err: AtError;
  if (code === "AT0015") err = new KeyNotFoundError("", text);
  else if (code === "AT0025" || code === "AT0026" || code === "AT0027" || code === "AT0028")
    err = new EnrollmentStateError(code, text);
  else {
    const Cls = CLASS_BY_CODE[code];
    err = Cls ? new Cls(text) : new UnknownAtError(code as ErrorCode, text);
  }
  return err;
}
