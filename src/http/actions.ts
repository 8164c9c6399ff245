import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from '../registry/dispatch.js';
import { sendJson, sendRefusal, sendWireError } from './respond.js';

/**
 * The state changes the dashboard offers, by method name: steering and stopping children,
 * approving or blocking a review, and running or trimming the merge queue. Anything else is 403,
 * so a stolen page cannot open sessions, take locks or remove worktrees.
 */
const ALLOWED_ACTIONS: ReadonlySet<string> = new Set([
  'thread.child.directive',
  'thread.child.interrupt',
  'thread.child.stop',
  'merge.review.submit',
  'merge.main.process',
  'merge.main.cancel',
]);

/** Request bodies are a method name and small params; anything larger is refused unread. */
const MAX_BODY_BYTES = 256 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface ActionContext {
  dispatcher: Dispatcher;
  /** Called after every action that reached the registry, so the page sees its effect at once. */
  changed(): void;
  log(line: string): void;
}

/**
 * POST /api/call {method, params}: an allowed method, through the same dispatcher as every other
 * surface. The dashboard acts as the supervising person, with no session identity: a caller cannot
 * pass session_id/thread_id to act as an agent.
 */
export async function handleAction(req: IncomingMessage, res: ServerResponse, ctx: ActionContext): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    sendRefusal(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'POST /api/call takes a JSON body (Content-Type: application/json).');
    return;
  }
  let text: string;
  try {
    text = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      res.setHeader('Connection', 'close');
      sendRefusal(res, 413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
      return;
    }
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    sendJson(res, 400, {
      error: { code: 'INVALID_ARGUMENT', message: `The body is not valid JSON: ${(err as Error).message}`, field: 'body' },
    });
    return;
  }
  if (!isObject(body) || typeof body.method !== 'string') {
    sendJson(res, 400, {
      error: { code: 'INVALID_ARGUMENT', message: 'The body must be {"method": "...", "params": {...}}.', field: 'method' },
    });
    return;
  }
  const { method } = body;
  if (!ALLOWED_ACTIONS.has(method)) {
    sendJson(res, 403, {
      error: {
        code: 'FORBIDDEN',
        message: `The dashboard does not offer ${JSON.stringify(method)}.`,
        field: 'method',
        hint: `Allowed: ${[...ALLOWED_ACTIONS].join(', ')}. Use the CLI (codestrator call) for anything else.`,
      },
    });
    return;
  }
  const params = body.params ?? {};
  const def = ctx.dispatcher.registry.methods.get(method);
  // For methods that take the caller from the params, session_id/thread_id would let the page act as an agent.
  if (isObject(params) && (def?.identity ?? 'params') === 'params') {
    const field = ['session_id', 'thread_id'].find((key) => key in params);
    if (field) {
      sendJson(res, 400, {
        error: {
          code: 'INVALID_ARGUMENT',
          message: `The dashboard acts as the supervising person; ${field} is not accepted.`,
          field,
          hint: `Leave out ${field}.`,
        },
      });
      return;
    }
  }
  const outcome = await ctx.dispatcher.call(method, params);
  ctx.changed();
  if (outcome.ok) sendJson(res, 200, { result: outcome.result });
  else sendWireError(res, outcome.error, ctx.log);
}
