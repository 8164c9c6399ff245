import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLaunch } from '../src/runners/build.js';
import type { RunnerInput, RunnerKind } from '../src/runners/types.js';

const base = (kind: RunnerKind, access?: RunnerInput['access']): RunnerInput => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-access-'));
  return {
    kind,
    prompt: 'do the case',
    cwd: dir,
    sessionId: 1,
    threadId: 2,
    serverCommand: ['/usr/bin/node', '/x/bin/codestrator.js', 'mcp'],
    repoPath: dir,
    threadDir: join(dir, 'thread'),
    baseEnv: { HOME: dir, PATH: '/usr/bin' },
    ...(access ? { access } : {}),
  };
};

/** The CLI's own argv (after tee-events' `--` for headless runners), options before the prompt's `--`. */
function options(argv: string[]): string[] {
  const cli = argv.includes('--') && !['codex', 'claude'].includes(argv[0]!) ? argv.slice(argv.indexOf('--') + 1) : argv;
  return cli.slice(0, cli.lastIndexOf('--'));
}

describe('runner access levels', () => {
  it.each([
    ['codex', 'workspace-write', ['--sandbox', 'workspace-write']],
    ['codex_exec', 'workspace-write', ['--sandbox', 'workspace-write']],
    ['codex_exec', 'read-only', ['--sandbox', 'read-only']],
    ['claude', 'workspace-write', ['--permission-mode', 'acceptEdits']],
    ['claude_exec', 'read-only', ['--permission-mode', 'plan']],
  ] as const)('%s with %s access passes %j before the prompt', (kind, access, flags) => {
    const argv = options(buildLaunch(base(kind, access)).argv);
    const at = argv.indexOf(flags[0]);
    expect(at).toBeGreaterThan(-1);
    expect(argv[at + 1]).toBe(flags[1]);
  });

  it('adds nothing when no access level is given', () => {
    expect(buildLaunch(base('codex')).argv).not.toContain('--sandbox');
    expect(buildLaunch(base('claude')).argv).not.toContain('--permission-mode');
  });
});
