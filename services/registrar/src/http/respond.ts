import type { ServerResponse } from "node:http";
import { MethodNotAllowedError, RegistrarError } from "../errors";
import { httpLogger as log } from "../logger";
import { html, page } from "./html";

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  markup: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(markup),
  });
  res.end(markup);
}

export function sendText(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Cache-Control": "public, max-age=300",
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(303, { ...SECURITY_HEADERS, ...headers, Location: location });
  res.end();
}

/** The one place errors become responses: JSON under /api, an HTML page elsewhere. */
export function sendError(res: ServerResponse, err: unknown, api: boolean): void {
  const known = err instanceof RegistrarError;
  const status = known ? err.status : 500;
  const message = known ? err.message : "internal error";
  if (!known) log.error({ err, reqId: res.getHeader("x-request-id") }, "unhandled error");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (err instanceof MethodNotAllowedError) headers.Allow = err.allow.join(", ");
  if (status === 401 && !api) headers["WWW-Authenticate"] = 'Basic realm="atPlatform admin"';
  if (api) {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    sendJson(res, status, { status: "error", message });
    return;
  }
  sendHtml(
    res,
    status,
    page({
      title: status >= 500 ? "Something went wrong" : "That did not work",
      body: html`<p class="error" role="alert">${message}</p>
        <p><a href="/">Back to the start</a></p>`,
    }),
    headers,
  );
}
