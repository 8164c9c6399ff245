import { type Json, asNumber, asObject, asString, clip, parseJsonLine } from './event-json.js';
import type { RunnerEvent } from './types.js';

/**
 * One line of `codex exec --json` (codex-rs/exec/src/exec_events.rs) in codestrator's terms:
 * - `thread.started`, `turn.started`, `item.*` → running, with a line for the items worth showing;
 * - `turn.completed` → completed, with `usage` (Codex reports the thread's running totals there)
 *   and no text, so the last text stays the agent's final message;
 * - `turn.failed` → failed, with its error;
 * - `error` → an error line only: Codex also emits it for retries ("Reconnecting... 2/5") and goes
 *   on, so it does not end the thread; a fatal one is followed by `turn.failed` or by the exit.
 * Blank lines, other JSON and non-JSON text give undefined.
 */
export function parseCodexEvent(line: string): RunnerEvent | undefined {
  const event = parseJsonLine(line);
  if (!event) return undefined;
  switch (event.type) {
    case 'thread.started':
      return { status: 'running', text: `codex session ${asString(event.thread_id) ?? '?'}` };
    case 'turn.started':
      return { status: 'running', text: 'turn started' };
    case 'turn.completed':
      return { status: 'completed', usage: usageOf(asObject(event.usage)) };
    case 'turn.failed': {
      const message = asString(asObject(event.error).message) ?? 'turn failed';
      return { status: 'failed', text: `turn failed: ${clip(message)}`, error: message };
    }
    case 'error': {
      const message = asString(event.message) ?? 'error';
      return { text: `error: ${clip(message)}`, error: message };
    }
    case 'item.started':
    case 'item.updated':
    case 'item.completed':
      return itemEvent(event.type, asObject(event.item));
    case 'request_user_input':
      return { status: 'running', text: 'asks for input (no one answers in exec mode)' };
    default:
      return undefined;
  }
}

function itemEvent(phase: string, item: Json): RunnerEvent {
  const done = phase === 'item.completed';
  const status = asString(item.status);
  switch (item.type) {
    case 'agent_message':
      return { status: 'running', text: clip(asString(item.text) ?? '') };
    case 'reasoning':
      return { status: 'running', text: `(thinking) ${clip(asString(item.text) ?? '')}` };
    case 'command_execution': {
      const command = clip(asString(item.command) ?? '');
      const exit = asNumber(item.exit_code);
      return { status: 'running', text: done ? `$ ${command} → ${exit ?? status ?? 'done'}` : `$ ${command}` };
    }
    case 'mcp_tool_call': {
      const name = `${asString(item.server) ?? '?'}.${asString(item.tool) ?? '?'}`;
      const error = asString(asObject(item.error).message);
      return { status: 'running', text: done ? `${name} → ${error ? `failed: ${clip(error)}` : (status ?? 'done')}` : `calls ${name}` };
    }
    case 'file_change': {
      const paths = (Array.isArray(item.changes) ? item.changes : []).map((change) => asString(asObject(change).path) ?? '?');
      return { status: 'running', text: `${status === 'failed' ? 'could not edit' : 'edits'} ${clip(paths.join(', '))}` };
    }
    case 'todo_list': {
      const items = Array.isArray(item.items) ? item.items.map(asObject) : [];
      return { status: 'running', text: `plan: ${items.filter((todo) => todo.completed === true).length}/${items.length} done` };
    }
    case 'web_search':
      return { status: 'running', text: `searches the web: ${clip(asString(item.query) ?? '')}` };
    case 'error':
      return { status: 'running', text: `warning: ${clip(asString(item.message) ?? '')}` };
    default:
      return { status: 'running' };
  }
}

function usageOf(usage: Json): NonNullable<RunnerEvent['usage']> {
  return {
    input_tokens: asNumber(usage.input_tokens) ?? 0,
    cached_input_tokens: asNumber(usage.cached_input_tokens) ?? 0,
    output_tokens: asNumber(usage.output_tokens) ?? 0,
  };
}
