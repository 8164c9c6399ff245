import { CodestratorError } from '../core/errors.js';

/** SQLITE_BUSY and its extended codes: another process holds the lock longer than busy_timeout. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

/** Raised when the database stayed busy for the whole retry budget: BUSY, which callers retry. */
export class BusyError extends CodestratorError {
  constructor(cause: unknown) {
    super('BUSY', 'The state database stayed locked by other processes for too long; try again.', {
      cause,
      hint: 'Retry the call in a moment.',
    });
    this.name = 'BusyError';
  }
}

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4));

/**
 * Retries a synchronous function while SQLite reports BUSY, with jittered backoff, for about
 * `budgetMs` in all. better-sqlite3 is synchronous, so the wait is a blocking sleep (Atomics.wait).
 */
export function retryBusy<T>(fn: () => T, budgetMs = 5000): T {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (Date.now() >= deadline) throw new BusyError(err);
      const backoff = Math.min(100, 2 ** attempt) * (0.5 + Math.random());
      Atomics.wait(sleepBuffer, 0, 0, backoff);
    }
  }
}
