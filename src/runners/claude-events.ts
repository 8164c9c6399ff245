import { type Json, asNumber, asObject, asString, clip, parseJsonLine } from './event-json.js';
import type { RunnerEvent } from './types.js';

/**
 * One line of `claude -p --output-format stream-json --verbose` in codestrator's terms:
 * - `system` (`init`) → running; if the codestrator MCP server did not connect, that is the error;
 * - `assistant` → running, with its text or the tools it calls; an API error message (not logged
 *   in, overloaded…) carries `error`;
 * - `user` → running; a tool result marked as an error is shown;
 * - `result` → completed, or failed when `is_error` is true or the subtype is `error_*`
 *   (error_max_turns, error_during_execution, error_max_budget_usd…). Claude Code 2.1 reports an
 *   API failure such as "Not logged in" as subtype `success` with `is_error: true`, so both count.
 *   Usage: input_tokens counts all input (plain + cache writes + cache reads), as Codex counts it;
 *   cached_input_tokens is the cache reads.
 * Blank lines, other JSON and non-JSON text give undefined.
 */
export function parseClaudeEvent(line: string): RunnerEvent | undefined {
  const event = parseJsonLine(line);
  if (!event) return undefined;
  switch (event.type) {
    case 'system':
      return systemEvent(event);
    case 'assistant':
      return assistantEvent(event);
    case 'user':
      return userEvent(event);
    case 'result':
      return resultEvent(event);
    default:
      return undefined;
  }
}

function systemEvent(event: Json): RunnerEvent {
  if (event.subtype !== 'init') return { status: 'running' };
  const servers = Array.isArray(event.mcp_servers) ? event.mcp_servers.map(asObject) : [];
  const ours = servers.find((server) => server.name === 'codestrator');
  const text = `claude session ${asString(event.session_id) ?? '?'} (${asString(event.model) ?? 'default model'})`;
  if (ours && ours.status !== 'connected') {
    const error = `the codestrator MCP server did not connect (status ${asString(ours.status) ?? 'unknown'})`;
    return { status: 'running', text: `${text}; ${error}`, error };
  }
  return { status: 'running', text };
}

function assistantEvent(event: Json): RunnerEvent {
  const lines = contentOf(event).map((block) => {
    if (block.type === 'text') return clip(asString(block.text) ?? '');
    if (block.type === 'tool_use') return `calls ${asString(block.name) ?? '?'}`;
    return '';
  });
  const text = clip(lines.filter(Boolean).join(' · '));
  const error = asString(event.error);
  if (error) return { status: 'running', text, error: text ? `${error}: ${text}` : error };
  return text ? { status: 'running', text } : { status: 'running' };
}

function userEvent(event: Json): RunnerEvent {
  const failed = contentOf(event).find((block) => block.type === 'tool_result' && block.is_error === true);
  if (!failed) return { status: 'running' };
  const content = failed.content;
  const detail =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((part) => asString(asObject(part).text) ?? '').join(' ')
        : '';
  return { status: 'running', text: `tool error: ${clip(detail)}` };
}

function resultEvent(event: Json): RunnerEvent {
  const subtype = asString(event.subtype) ?? 'success';
  const failed = event.is_error === true || subtype !== 'success';
  const result = asString(event.result);
  const usage = asObject(event.usage);
  const input = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'].reduce(
    (sum, key) => sum + (asNumber(usage[key]) ?? 0),
    0,
  );
  const summary: RunnerEvent = {
    status: failed ? 'failed' : 'completed',
    usage: {
      input_tokens: input,
      cached_input_tokens: asNumber(usage.cache_read_input_tokens) ?? 0,
      output_tokens: asNumber(usage.output_tokens) ?? 0,
    },
  };
  if (!failed) return { ...summary, text: clip(result ?? 'completed') };
  const errors = Array.isArray(event.errors) ? event.errors.filter((item): item is string => typeof item === 'string') : [];
  const error = errors.join('; ') || result || subtype;
  return { ...summary, text: `failed (${subtype}): ${clip(error)}`, error };
}

function contentOf(event: Json): Json[] {
  const content = asObject(event.message).content;
  return Array.isArray(content) ? content.map(asObject) : [];
}
