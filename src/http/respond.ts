import type { ServerResponse } from 'node:http';
import type { ErrorCode, WireError } from '../core/errors.js';
import { SECURITY_HEADERS } from './guard.js';

/**
 * Codes only the HTTP surface raises, before any method runs: a missing or wrong token
 * (UNAUTHORIZED, 401), a refused Host, Origin or method (FORBIDDEN, 403), an unknown route or
 * verb, an oversized or non-JSON body. None is retryable as is.
 */
type HttpOnlyCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'METHOD_NOT_ALLOWED' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE';

/** The HTTP status of each dispatcher error code: the caller's faults are 4xx, ours (and git's, and a busy database) 5xx. */
const STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_OWNER: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 409,
  LOCKED: 423,
  INTERNAL: 500,
  EXTERNAL: 502,
  BUSY: 503,
};

/** Writes a JSON body with the security headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** A refusal of the HTTP surface itself, in the same `{error: {code, message}}` shape as a method's error. */
export function sendRefusal(res: ServerResponse, status: number, code: HttpOnlyCode | ErrorCode, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/**
 * A dispatcher error as HTTP: the status from its code, the body unchanged, except that an
 * INTERNAL error's details stay in the server's log (they may carry paths and stack-like text).
 */
export function sendWireError(res: ServerResponse, wire: WireError, log: (line: string) => void): void {
  const status = STATUS[wire.error.code] ?? 500;
  if (status === 500) {
    log(`codestrator serve: internal error: ${wire.error.message}`);
    sendJson(res, 500, { error: { code: 'INTERNAL', message: 'Internal error; the details are in the dashboard server log.' } });
    return;
  }
  sendJson(res, status, wire, wire.error.code === 'BUSY' ? { 'Retry-After': '1' } : {});
}
