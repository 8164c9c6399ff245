import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createDispatcher } from '../src/app/services.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * An agent that follows shared/spec/method-contracts.md to the letter: every method called with every
 * input the contract lists (test/fixtures/contract-calls.json, in a meaningful order) is accepted.
 */
interface ContractCall {
  method: string;
  params: Record<string, unknown>;
  save?: Record<string, string>;
  /** Which agent's server makes the call (default: the first); each is an agent's own server, which adopts the session it opens. */
  agent?: string;
  /** A session to make silent past its heartbeat timeout right after the call. */
  suspend?: string;
}

const { calls } = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'contract-calls.json'), 'utf8')) as {
  calls: ContractCall[];
};
const tmux = privateTmux();
let repo: TempRepo | undefined;
afterAll(() => {
  tmux.kill();
  repo?.cleanup();
});

class MissingValue extends Error {}

function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

function resolve(value: unknown, saved: Map<string, unknown>): unknown {
  if (typeof value === 'string' && value.startsWith('$')) {
    const name = value.slice(1);
    if (name === 'node_bin') return process.execPath;
    if (!saved.has(name)) throw new MissingValue(value);
    return saved.get(name);
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, saved));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, saved)]));
  return value;
}

describe('method-contracts.md, input by input', () => {
  it('the list covers every method and input the contract names', () => {
    const spec = readFileSync(join(import.meta.dirname, '..', '..', 'shared', 'spec', 'method-contracts.md'), 'utf8');
    const named = new Map<string, Set<string>>();
    for (const call of calls) {
      const inputs = named.get(call.method) ?? new Set<string>();
      for (const key of Object.keys(call.params)) inputs.add(key);
      named.set(call.method, inputs);
    }
    const missing: string[] = [];
    let methods = 0;
    for (const block of spec.split(/\n- `/).slice(1)) {
      const method = block.slice(0, block.indexOf('`'));
      const input = /\n {2}- input: (.*)/.exec(block)?.[1] ?? '';
      methods++;
      if (!named.has(method)) missing.push(method);
      for (const [, name] of input.matchAll(/`([a-z_]+)(?:[`(])/g))
        if (!named.get(method)?.has(name!) && !['none'].includes(name!)) missing.push(`${method}.${name}`);
    }
    expect(methods).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('accepts every call with its contract names (no INVALID_ARGUMENT)', async () => {
    repo = makeRepo();
    const servers = new Map<string, ReturnType<typeof createDispatcher>>();
    const server = (agent = 'first') => {
      if (!servers.has(agent))
        servers.set(
          agent,
          createDispatcher(repo!.path, { PATH: process.env.PATH, HOME: process.env.HOME, ...tmux.env }, { adoptSessions: true }),
        );
      return servers.get(agent)!;
    };
    const saved = new Map<string, unknown>();
    const refused: string[] = [];
    for (const call of calls) {
      let params: Record<string, unknown>;
      try {
        params = resolve(call.params, saved) as Record<string, unknown>;
      } catch (err) {
        if (!(err instanceof MissingValue)) throw err;
        refused.push(`${call.method}: not called, ${err.message} was not saved by an earlier call`);
        continue;
      }
      if (call.method === 'session.open' && params.intent === 'new_work' && !saved.has('session')) {
        // A stand-in reviewer and a test gate-free config, as a user would set them once.
        writeFileSync(
          join(repo.path, '.codestrator', 'config.json'),
          JSON.stringify({ reviewer: { runner: 'command', command: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'] } }),
        );
      }
      const outcome = await server(call.agent).call(call.method, params);
      if (!outcome.ok) {
        refused.push(`${call.method} ${JSON.stringify(params)} → ${outcome.error.error.code}: ${outcome.error.error.message}`);
        continue;
      }
      for (const [name, path] of Object.entries(call.save ?? {})) saved.set(name, at(outcome.result, path));
      if (call.suspend) {
        const db = new Database(join(repo.path, '.codestrator', 'state.db'));
        db.prepare('UPDATE sessions SET last_seen_at = 0 WHERE id = ?').run(resolve(call.suspend, saved));
        db.close();
      }
    }
    expect(refused).toEqual([]);
  });
});
