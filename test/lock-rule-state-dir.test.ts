import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makeRepo } from './helpers/repo.js';

/**
 * A CODESTRATOR_STATE_DIR that holds no codestrator state would start an empty, separate state
 * where no lock is seen: every command refuses it, except `codestrator init` and the workspace.init method, which create it.
 */
describe('CODESTRATOR_STATE_DIR naming a directory with no codestrator state', () => {
  const repo = makeRepo('state-dir');
  afterAll(() => repo.cleanup());

  it('is refused with a clear error (nothing created) until `codestrator init` is asked', () => {
    const elsewhere = join(repo.path, '..', 'typo-state');
    const env = { CODESTRATOR_STATE_DIR: elsewhere };
    const refused = cli(repo.path, ['call', 'lock.list'], env);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error: { code: 'PRECONDITION_FAILED' } });
    expect(refused.stderr).toContain(`CODESTRATOR_STATE_DIR=${elsewhere} holds no codestrator state (no state.db)`);
    expect(refused.stderr).toContain('codestrator init');
    expect(existsSync(elsewhere)).toBe(false);
    expect(cli(repo.path, ['init'], env).code).toBe(0);
    expect(existsSync(join(elsewhere, 'state.db'))).toBe(true);
    expect(cli(repo.path, ['call', 'lock.list'], env).code).toBe(0);
    // An agent following the skill calls workspace.init first: that creates the state too.
    const viaMethod = join(repo.path, '..', 'agent-state');
    expect(cli(repo.path, ['call', 'lock.list'], { CODESTRATOR_STATE_DIR: viaMethod }).code).toBe(1);
    expect(cli(repo.path, ['call', 'workspace.init'], { CODESTRATOR_STATE_DIR: viaMethod }).code).toBe(0);
    expect(existsSync(join(viaMethod, 'state.db'))).toBe(true);
    // The repository's own state dir, named explicitly, needs no init.
    expect(cli(repo.path, ['call', 'lock.list'], { CODESTRATOR_STATE_DIR: join(repo.path, '.codestrator') }).code).toBe(0);
  });
});
