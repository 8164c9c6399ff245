/**
 * The one error type every layer throws. Each surface (MCP, CLI, HTTP) maps it once.
 * Codes are stable strings; the message is a sentence that says what to do next.
 */
export type ErrorCode =
  /** Raised by the dispatcher or a handler when params are malformed; not retryable. */
  | 'INVALID_ARGUMENT'
  /** An id in the params names nothing; not retryable. */
  | 'NOT_FOUND'
  /** The object is in a state that forbids the call (e.g. completing a case that is not active); not retryable as is. */
  | 'PRECONDITION_FAILED'
  /** Another live owner holds the thing (a case, a session); retry later or pick other work. */
  | 'CONFLICT'
  /** A file/prefix lock held by another owner blocks the call; retry after the named lease expires. */
  | 'LOCKED'
  /** The caller acts on something it does not own; pass force with a reason to override. */
  | 'NOT_OWNER'
  /** The database stayed busy past the retry budget; retryable. */
  | 'BUSY'
  /** git or another external command failed; the message carries its stderr. */
  | 'EXTERNAL'
  /** A bug or an unexpected environment failure; not the caller's fault. */
  | 'INTERNAL';

export interface ErrorOptions {
  field?: string;
  hint?: string;
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class CodestratorError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly hint?: string;
  readonly data?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodestratorError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.data !== undefined) this.data = options.data;
  }

  get retryable(): boolean {
    return this.code === 'BUSY' || this.code === 'LOCKED';
  }

  /** The wire shape shared by every surface: `{error: {code, message, field?, hint?, data?}}`. */
  toWire(): WireError {
    const error: WireError['error'] = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.hint !== undefined) error.hint = this.hint;
    if (this.data !== undefined) error.data = this.data;
    return { error };
  }
}

export interface WireError {
  error: { code: ErrorCode; message: string; field?: string; hint?: string; data?: Record<string, unknown> };
}

export const notFound = (what: string, id: number | string, field: string): CodestratorError =>
  new CodestratorError('NOT_FOUND', `${what} ${id} does not exist.`, { field });

export const invalid = (message: string, field?: string, hint?: string): CodestratorError =>
  new CodestratorError('INVALID_ARGUMENT', message, {
    ...(field === undefined ? {} : { field }),
    ...(hint === undefined ? {} : { hint }),
  });

/** Turns anything thrown into a CodestratorError; unknown failures become INTERNAL. */
export function toCodestratorError(err: unknown): CodestratorError {
  if (err instanceof CodestratorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CodestratorError('INTERNAL', `Internal error: ${message}`, { cause: err });
}
