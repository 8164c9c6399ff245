import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../src/mcp/line-transport.js';
import { BIN, cleanEnv } from './helpers/cli.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';

/**
 * The MCP server over raw stdio: an oversized message, a line that is not JSON and one that is
 * not JSON-RPC each get a JSON-RPC error reply, and the server answers the next request.
 */

type Json = Record<string, any>;

let repo: TempRepo;
let child: ChildProcessWithoutNullStreams;
const replies: Json[] = [];
const stderr: string[] = [];
let exited: number | null | undefined;

beforeAll(async () => {
  repo = makeRepo('limits-mcp');
  child = spawn(process.execPath, [BIN, 'mcp'], { cwd: repo.path, env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) replies.push(JSON.parse(line) as Json);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  child.on('exit', (code) => (exited = code));
  send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  await reply((m) => m.id === 1);
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
});

afterAll(() => {
  child?.kill();
  repo?.cleanup();
});

function send(message: Json | string): void {
  child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
}

async function reply(match: (message: Json) => boolean, timeoutMs = 20_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const index = replies.findIndex(match);
    if (index >= 0) return replies.splice(index, 1)[0]!;
    if (exited !== undefined) throw new Error(`the server exited (${exited}); stderr: ${stderr.join('')}`);
    if (Date.now() > deadline) throw new Error(`no reply; stderr: ${stderr.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function stillServes(id: number): Promise<void> {
  send({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });
  const listed = await reply((m) => m.id === id);
  expect(listed.result.tools.length).toBeGreaterThan(5);
  expect(exited).toBeUndefined();
}

describe('MCP message limits', () => {
  it('a message over 10 MiB gets an error naming the limit, with its id, and the server carries on', async () => {
    const big = 'x'.repeat(MAX_MESSAGE_BYTES + 1024);
    // The SDK's client writes the id last.
    send({
      method: 'tools/call',
      params: { name: 'orch_task', arguments: { method: 'task.create', params: { level: 'epic', title: big } } },
      jsonrpc: '2.0',
      id: 7,
    });
    const refused = await reply((m) => m.id === 7);
    expect(refused.error.code).toBe(-32600);
    expect(refused.error.message).toContain(String(MAX_MESSAGE_BYTES));
    expect(refused.error.data).toMatchObject({ limit_bytes: MAX_MESSAGE_BYTES });
    expect(stderr.join('')).toContain('skipped');
    await stillServes(8);
    // An id written first is found too.
    send({
      jsonrpc: '2.0',
      id: 'first',
      method: 'tools/call',
      params: { name: 'orch_task', arguments: { method: 'task.list', params: { pad: big } } },
    });
    expect((await reply((m) => m.id === 'first')).error.code).toBe(-32600);
    await stillServes(9);
  }, 60_000);

  it('a line that is not JSON gets a -32700 parse error; JSON that is not JSON-RPC gets -32600', async () => {
    send('{"jsonrpc": "2.0", "id": 10, "method": ');
    const parse = await reply((m) => m.error?.code === -32700);
    expect(parse.id).toBeNull();
    expect(parse.error.message).toContain('Parse error');
    send({ id: 11, hello: 'world' });
    const invalid = await reply((m) => m.id === 11);
    expect(invalid.error.code).toBe(-32600);
    await stillServes(12);
  });

  it('an unknown tool is the JSON-RPC invalid-params error, not a tool result', async () => {
    send({ jsonrpc: '2.0', id: 13, method: 'tools/call', params: { name: 'orch_nope', arguments: { method: 'task.list', params: {} } } });
    const refused = await reply((m) => m.id === 13);
    expect(refused.result).toBeUndefined();
    expect(refused.error.code).toBe(-32602);
    expect(refused.error.message).toContain('orch_nope');
    expect(refused.error.data).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'name' });
  });

  it('params over the dispatcher limit come back as INVALID_ARGUMENT naming the field', async () => {
    send({
      jsonrpc: '2.0',
      id: 14,
      method: 'tools/call',
      params: { name: 'orch_session', arguments: { method: 'workspace.init', params: {} } },
    });
    expect((await reply((m) => m.id === 14)).result.isError).toBeFalsy();
    const title = 'y'.repeat(200_000);
    send({
      jsonrpc: '2.0',
      id: 15,
      method: 'tools/call',
      params: { name: 'orch_task', arguments: { method: 'task.create', params: { level: 'epic', title } } },
    });
    const refused = await reply((m) => m.id === 15);
    expect(refused.result.isError).toBe(true);
    expect(refused.result.structuredContent.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'title' });
  });
});
