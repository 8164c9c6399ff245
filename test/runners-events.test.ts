import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClaudeEvent } from '../src/runners/claude-events.js';
import { codexConfigToml } from '../src/runners/codex-config.js';
import { parseCodexEvent } from '../src/runners/codex-events.js';
import { parseRunnerEvent, summarizeEvents } from '../src/runners/events.js';
import { ROOT } from './helpers/cli.js';

const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'runners', name), 'utf8');

describe('codex exec --json events', () => {
  it('a successful run: completed, with the final message and the reported usage', () => {
    const summary = summarizeEvents(fixture('codex-exec-success.jsonl'));
    expect(summary).toEqual({
      status: 'completed',
      last_text: 'Fixed the off-by-one in `parseRange` and added a regression test; `npm test -- parser` passes (12 tests).',
      usage: { input_tokens: 48213, cached_input_tokens: 40960, output_tokens: 1877 },
      events: 16,
    });
  });

  it('a failed run: failed with the turn error; retries and warnings before it do not end it', () => {
    const lines = fixture('codex-exec-failed.jsonl').split('\n');
    const beforeFailure = summarizeEvents(lines.slice(0, 8));
    expect(beforeFailure.status).toBe('running');
    expect(beforeFailure.error).toMatch(/^Reconnecting\.\.\. 5\/5/);
    const summary = summarizeEvents(lines);
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe(
      'unexpected status 401 Unauthorized: Your refresh token has already been used to generate a new access token. Please try signing in again.',
    );
    expect(summary.last_text).toMatch(/^turn failed: unexpected status 401/);
    expect(summary.usage).toEqual({ input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 });
  });

  it('maps each item type to a short line', () => {
    const item = (phase: string, body: object) => parseCodexEvent(JSON.stringify({ type: phase, item: { id: 'item_1', ...body } }));
    expect(item('item.started', { type: 'command_execution', command: 'ls\n-la', status: 'in_progress' })).toEqual({
      status: 'running',
      text: '$ ls -la',
    });
    expect(item('item.completed', { type: 'command_execution', command: 'false', exit_code: 1, status: 'failed' })?.text).toBe(
      '$ false → 1',
    );
    expect(
      item('item.completed', {
        type: 'mcp_tool_call',
        server: 'codestrator',
        tool: 'orch_task',
        error: { message: 'NOT_OWNER' },
        status: 'failed',
      })?.text,
    ).toBe('codestrator.orch_task → failed: NOT_OWNER');
    expect(item('item.completed', { type: 'file_change', changes: [{ path: 'a.ts', kind: 'add' }], status: 'failed' })?.text).toBe(
      'could not edit a.ts',
    );
    expect(item('item.completed', { type: 'web_search', query: 'vitest' })?.text).toBe('searches the web: vitest');
    expect(item('item.completed', { type: 'something_new' })).toEqual({ status: 'running' });
    expect(parseCodexEvent('{"type":"turn.failed","error":{}}')).toMatchObject({ status: 'failed', error: 'turn failed' });
  });
});

describe('claude stream-json events', () => {
  it('a successful run: completed, the result text, usage with cache writes and reads counted as input', () => {
    expect(summarizeEvents(fixture('claude-stream-success.jsonl'))).toEqual({
      status: 'completed',
      last_text: 'Fixed the off-by-one in parseRange; the parser tests pass.',
      usage: { input_tokens: 31 + 5120 + 90422, cached_input_tokens: 90422, output_tokens: 1204 },
      events: 10,
    });
    const lines = fixture('claude-stream-success.jsonl').split('\n');
    expect(parseClaudeEvent(lines[0]!)).toEqual({
      status: 'running',
      text: 'claude session 5f0c2a7e-9d41-4c1b-8a53-0e6f1b2d9c44 (claude-sonnet-5)',
    });
    expect(parseClaudeEvent(lines[2]!)?.text).toBe('calls mcp__codestrator__orch_task');
    expect(parseClaudeEvent(lines[5]!)?.text).toBe('tool error: Exit code 1 1 failed');
  });

  it('a real "not logged in" run of Claude Code 2.1.330: result subtype success but is_error, so failed', () => {
    const summary = summarizeEvents(fixture('claude-stream-not-logged-in.jsonl'));
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe('Not logged in · Please run /login');
    expect(summary.events).toBe(3);
  });

  it('error_* results fail with their errors; a codestrator server that did not connect is reported', () => {
    const summary = summarizeEvents(fixture('claude-stream-max-turns.jsonl'));
    expect(summary).toMatchObject({ status: 'failed', error: 'Reached maximum number of turns (3)' });
    expect(summary.usage).toEqual({ input_tokens: 27012, cached_input_tokens: 27000, output_tokens: 95 });
    const init = { type: 'system', subtype: 'init', session_id: 's', model: 'm', mcp_servers: [{ name: 'codestrator', status: 'failed' }] };
    expect(parseClaudeEvent(JSON.stringify(init))?.error).toBe('the codestrator MCP server did not connect (status failed)');
  });
});

describe('parsing leniency', () => {
  it('ignores blank lines, plain text, other JSON and unknown types; accepts lines or text', () => {
    for (const line of ['', '   ', 'Reading prompt from stdin...', '[1,2]', '{"type":"stream_event"}', '{not json', '{"no_type":1}']) {
      expect(parseRunnerEvent(line)).toBeUndefined();
    }
    const text = fixture('codex-exec-success.jsonl');
    expect(summarizeEvents(text.split('\n'))).toEqual(summarizeEvents(`noise\n${text}`));
    expect(summarizeEvents([])).toEqual({
      status: 'unknown',
      usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 },
      events: 0,
    });
  });
});

describe("the child's Codex config.toml", () => {
  const entry = {
    command: '/usr/bin/node',
    args: ['/opt/codestrator/bin/codestrator.js', 'mcp'],
    env: { CODESTRATOR_THREAD_ID: '4', 'ODD KEY': 'tab\tquote"\u007f' },
  };

  it('drops every earlier codestrator definition, keeps everything else, appends ours', () => {
    const user = [
      '# user config',
      'model = "gpt-5"',
      'mcp_servers.codestrator.command = "dotted"',
      'mcp_servers.codestrator.args = [',
      '  "x",',
      ']',
      '',
      '[mcp_servers]',
      'codestrator = { command = "inline", args = [] }',
      'other = { command = "echo", args = ["[codestrator]"] }',
      '',
      '[mcp_servers."codestrator".env]',
      'A = "1"',
      '',
      '[ mcp_servers . codestrator ]',
      'command = "spaced"',
      'note = """',
      '[not_a_header]',
      '"""',
      '',
      '[mcp_servers.codestrator-two]',
      'command = "kept"',
      '',
      '[profiles.fast]',
      "notes = '''",
      '[mcp_servers.codestrator]',
      "'''",
    ].join('\r\n');
    expect(codexConfigToml(user, entry, 4)).toBe(
      [
        '# user config',
        'model = "gpt-5"',
        '',
        '[mcp_servers]',
        'other = { command = "echo", args = ["[codestrator]"] }',
        '',
        '[mcp_servers.codestrator-two]',
        'command = "kept"',
        '',
        '[profiles.fast]',
        "notes = '''",
        '[mcp_servers.codestrator]',
        "'''",
        '',
        '# Added by codestrator for thread 4: its own MCP server, acting as this thread.',
        '[mcp_servers.codestrator]',
        'command = "/usr/bin/node"',
        'args = ["/opt/codestrator/bin/codestrator.js", "mcp"]',
        'required = true',
        'default_tools_approval_mode = "approve"',
        '',
        '[mcp_servers.codestrator.env]',
        'CODESTRATOR_THREAD_ID = "4"',
        '"ODD KEY" = "tab\\tquote\\"\\u007F"',
        '',
      ].join('\n'),
    );
  });

  it('without a user config, only ours', () => {
    expect(codexConfigToml(null, entry, 4).startsWith('# Added by codestrator for thread 4')).toBe(true);
  });
});
