import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARAM_LIMITS } from '../src/registry/limits.js';
import { type Harness, makeGroup, openHarness, quickSession } from './helpers/dispatch.js';

/**
 * Size and shape limits on params, through the dispatcher every surface uses: each refusal is
 * INVALID_ARGUMENT naming the field and the limit, and writes nothing.
 */

let h: Harness;
let sessionId: number;
let caseId: number;

beforeAll(async () => {
  h = openHarness();
  sessionId = await quickSession(h);
  const group = await makeGroup(h, sessionId);
  caseId = (await h.ok('task.create', { level: 'case', title: 'Limits', parent_id: group, session_id: sessionId })).task.id;
});

afterAll(() => h?.repo.cleanup());

const ledgerVersion = () => (h.db().prepare('SELECT ledger_version AS v FROM meta').get() as { v: number }).v;

/** An object of about `bytes` bytes as JSON, made of many small fields. */
function bulky(bytes: number): Record<string, string> {
  const value: Record<string, string> = {};
  for (let i = 0; i * 100 < bytes; i++) value[`k${i}`] = 'x'.repeat(90);
  return value;
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('input_contract', () => {
  it('a 5 MB contract is refused naming the field and the limit, and nothing is written', async () => {
    const before = ledgerVersion();
    const error = await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: bulky(5_000_000) });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'input_contract' });
    expect(error.message).toContain(`${PARAM_LIMITS.objectBytes} bytes`);
    expect(ledgerVersion()).toBe(before);
    const row = h.db().prepare('SELECT status, input_contract FROM tasks WHERE id = ?').get(caseId) as Record<string, unknown>;
    expect(row).toEqual({ status: 'todo', input_contract: null });
  });

  it('the cap is 64 KiB serialized, for the object and for its JSON text', async () => {
    const over = bulky(PARAM_LIMITS.objectBytes + 1000);
    expect((await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: over })).field).toBe('input_contract');
    const asText = await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: JSON.stringify(over) });
    expect(asText).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'input_contract' });
  });

  it('a deeply nested contract is refused naming where, as an object and as JSON text', async () => {
    const deep = await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: nested(5000) });
    expect(deep.code).toBe('INVALID_ARGUMENT');
    expect(deep.field).toMatch(/^input_contract(\.a)+$/);
    expect(deep.message).toContain(`${PARAM_LIMITS.depth} levels`);
    const text = await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: JSON.stringify(nested(100)) });
    expect(text.field).toMatch(/^input_contract(\.a)+$/);
  });

  it('a contract within the limits is stored', async () => {
    const begun = await h.ok('case.begin', {
      case_id: caseId,
      session_id: sessionId,
      input_contract: { endpoint: '/login', nested: nested(5) },
    });
    expect(begun.case ?? begun).toBeDefined();
    const row = h.db().prepare('SELECT input_contract FROM tasks WHERE id = ?').get(caseId) as { input_contract: string };
    expect(JSON.parse(row.input_contract)).toMatchObject({ endpoint: '/login' });
  });
});

describe('every field', () => {
  it('a string over the limit is refused naming the field', async () => {
    const error = await h.fail('task.create', { level: 'epic', title: 'x'.repeat(PARAM_LIMITS.stringChars + 1) });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'title' });
    expect(error.message).toContain(`${PARAM_LIMITS.stringChars} characters`);
  });

  it('params over 1 MiB as a whole are refused as params', async () => {
    const paths = Array.from({ length: 1000 }, (_, i) => `src/${i}/${'p'.repeat(1100)}`);
    const error = await h.fail('lock.check', { paths });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'params' });
    expect(error.message).toContain(`${PARAM_LIMITS.paramsBytes} bytes`);
  });

  it('NUL bytes in a branch name, a mirror path or a key are INVALID_ARGUMENT naming the field, not INTERNAL', async () => {
    const branch = await h.fail('merge.main.request', { target_branch: 'ma\0in', session_id: sessionId });
    expect(branch).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'target_branch' });
    const mirror = await h.fail('mirror.refresh', { requester_role: 'doc-mirror-manager', target_path: 'status\0.md' });
    expect(mirror).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'target_path' });
    expect(mirror.message).toContain('NUL');
    const key = await h.fail('case.begin', { case_id: caseId, session_id: sessionId, input_contract: { 'a\0b': 1 } });
    expect(key).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'input_contract' });
  });

  it('deep nesting anywhere is INVALID_ARGUMENT, not INTERNAL', async () => {
    const error = await h.fail('task.create', { level: 'epic', title: 'deep', task_spec: nested(100_000) } as never);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toMatch(/^task_spec(\.a)+$/);
  });
});
