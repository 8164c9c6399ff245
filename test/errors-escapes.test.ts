import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENTS, agentScript } from '../src/demo/scripts.js';
import { placeholderProblem, resolvePlaceholders } from '../src/runners/script-placeholders.js';
import { cli } from './helpers/cli.js';
import { type Harness, makeGroup, openHarness, quickSession } from './helpers/dispatch.js';

/**
 * User text never drives a terminal or a viewer: control characters in titles are escaped by the
 * CLI views and in the Markdown mirror (non-ASCII text stays). The mirror is never written
 * through a symbolic link. The demo's scripts write file contents verbatim, `${` included.
 */

/** Sets the window title, rings the bell, clears the screen and flips the text right to left. */
const HOSTILE = 'café 로그인 \u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil';
const ESCAPED = 'café 로그인 \\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eevil';
const MIRROR_ROLE = 'doc-mirror-manager';

let h: Harness;
let outside: string;

beforeAll(async () => {
  h = openHarness();
  const session = await quickSession(h, { user_request: `request ${HOSTILE}` });
  const group = await makeGroup(h, session);
  const task = await h.ok('task.create', { level: 'case', title: `case ${HOSTILE}`, parent_id: group, session_id: session });
  await h.ok('case.begin', { case_id: task.task.id, session_id: session });
  await h.ok('step.check', {
    case_id: task.task.id,
    step_title: `step ${HOSTILE}`,
    result: 'pass',
    notes: `notes ${HOSTILE}`,
    session_id: session,
  });
  outside = mkdtempSync(join(tmpdir(), 'cs-outside-'));
});

afterAll(() => {
  h?.repo.cleanup();
  if (outside) rmSync(outside, { recursive: true, force: true });
});

/** Any C0 control but newline, DEL, C1, or a bidi override. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('control characters on output', () => {
  it('the CLI views (tasks, status) print them escaped and keep non-ASCII text', () => {
    for (const args of [['tasks'], ['status']]) {
      const result = cli(h.repo.path, args);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toMatch(CONTROL);
      expect(result.stdout).toContain(`case ${ESCAPED}`);
    }
    expect(cli(h.repo.path, ['status']).stdout).toContain(`request ${ESCAPED}`);
  });

  it('--json keeps the exact text, every control character written as a JSON escape', () => {
    for (const args of [
      ['tasks', '--json'],
      ['status', '--json'],
    ]) {
      const result = cli(h.repo.path, args);
      expect(result.stdout).not.toMatch(CONTROL);
      expect(JSON.stringify(result.json)).toContain(JSON.stringify(`case ${HOSTILE}`).slice(1, -1));
    }
  });

  it('the Markdown mirror writes them escaped and keeps non-ASCII text', async () => {
    const refreshed = await h.ok('mirror.refresh', { requester_role: MIRROR_ROLE });
    const markdown = readFileSync(refreshed.path, 'utf8');
    expect(markdown).not.toMatch(CONTROL);
    for (const prefix of ['case', 'step', 'notes', 'request']) expect(markdown).toContain(`${prefix} ${ESCAPED}`);
  });
});

describe('no mirror write through a symlink', () => {
  const mirrorDir = () => join(h.repo.path, '.codestrator', 'mirror');

  it('a mirror directory replaced by a link out of the repository is refused, and nothing is written there', async () => {
    rmSync(mirrorDir(), { recursive: true, force: true });
    symlinkSync(outside, mirrorDir());
    try {
      const error = await h.fail('mirror.refresh', { requester_role: MIRROR_ROLE });
      expect(error).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'target_path' });
      expect(error.message).toContain('symbolic link');
      expect(error.hint).toContain('rm ');
      const other = await h.fail('mirror.refresh', { requester_role: MIRROR_ROLE, target_path: 'other.md' });
      expect(other.code).toBe('PRECONDITION_FAILED');
      expect(readdirSync(outside)).toEqual([]);
    } finally {
      rmSync(mirrorDir());
    }
    // With the link gone the mirror is written again, into a plain directory.
    await h.ok('mirror.refresh', { requester_role: MIRROR_ROLE });
    expect(lstatSync(mirrorDir()).isDirectory()).toBe(true);
  });

  it('a mirror file that is a link (even a dangling one) is refused and its target is untouched', async () => {
    const victim = join(outside, 'victim.md');
    writeFileSync(victim, 'keep me\n');
    const file = join(mirrorDir(), 'status.md');
    rmSync(file, { force: true });
    symlinkSync(victim, file);
    expect((await h.fail('mirror.refresh', { requester_role: MIRROR_ROLE })).code).toBe('PRECONDITION_FAILED');
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    rmSync(file);
    symlinkSync(join(outside, 'nothing-here'), file);
    expect((await h.fail('mirror.refresh', { requester_role: MIRROR_ROLE })).code).toBe('PRECONDITION_FAILED');
    expect(readdirSync(outside)).toEqual(['victim.md']);
    rmSync(file);
  });
});

describe('demo scripts', () => {
  it('write a file holding a template literal byte for byte', () => {
    const content = 'export const greet = (name) => `Hello ${name}, you owe $${amount} (not $$${x})`;\n';
    const script = agentScript({ ...AGENTS[0]!, files: { 'src/greet.js': content } }, 1) as { steps: Record<string, any>[] };
    const write = script.steps.find((step) => step.write?.path === 'src/greet.js')!;
    expect(placeholderProblem(write.write.content, () => false)).toBeUndefined();
    expect(resolvePlaceholders(write.write.content as string, {})).toBe(content);
  });
});
