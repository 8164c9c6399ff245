import type { Dispatcher } from '../registry/dispatch.js';
import { callShowingProgress } from './progress.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses the params argument; "-" reads stdin. Malformed JSON is reported like any invalid params. */
export async function readCallParams(arg: string): Promise<unknown> {
  const text = arg === '-' ? await readStdin() : arg;
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    return new SyntaxError(`params are not valid JSON: ${(err as Error).message}`);
  }
}

/** `codestrator call`: result JSON on stdout (exit 0), or the structured error on stderr (exit 1). */
export async function runCall(dispatcher: Dispatcher, method: string, params: unknown): Promise<number> {
  if (params instanceof SyntaxError) {
    process.stderr.write(`${JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: params.message, field: 'params' } }, null, 2)}\n`);
    return 1;
  }
  const outcome = await callShowingProgress(dispatcher, method, params);
  if (outcome.ok) {
    process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
    return 0;
  }
  process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
  return 1;
}
