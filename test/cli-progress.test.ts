import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cli } from './helpers/cli.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { commitFiles, openWorkSession, writeConfig } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

const tmux = privateTmux();
const harnesses: Harness[] = [];
afterAll(() => {
  tmux.kill();
  for (const h of harnesses) h.repo.cleanup();
});

/** A repository with one queued item whose gate takes a moment. */
async function queuedItem(): Promise<Harness> {
  const h = openHarness();
  harnesses.push(h);
  writeConfig(h, { gate: { command: [process.execPath, '-e', 'setTimeout(() => console.log("gate ok"), 600)'] } });
  const s = await openWorkSession(h, 'progress');
  const child = (await h.ok('worktree.spawn', { name: 'slow gate', session_id: s.sessionId })).worktree;
  commitFiles(child.path, { 'src/slow.ts': 'export const slow = true;\n' }, 'slow');
  await h.ok('merge.main.request', { from_worktree_id: child.id, session_id: s.sessionId });
  return h;
}

describe('progress of long operations', () => {
  it('shows each step of queue processing on a terminal, with its duration', async () => {
    const h = await queuedItem();
    const dir = mkdtempSync(join(tmpdir(), 'cs-progress-'));
    const out = join(dir, 'stdout.json');
    const done = join(dir, 'exit');
    // A real terminal: the CLI runs in a tmux pane (stderr is a TTY); stdout goes to a file.
    const runner = join(dir, 'run.mjs');
    writeFileSync(
      runner,
      `import { spawnSync } from 'node:child_process'; import { openSync, writeFileSync } from 'node:fs';
const r = spawnSync(process.execPath, [${JSON.stringify(BIN)}, 'call', 'merge.main.process', '{}'], { stdio: ['ignore', openSync(${JSON.stringify(out)}, 'w'), 'inherit'] });
writeFileSync(${JSON.stringify(done)}, String(r.status));
setTimeout(() => {}, 30_000); // keep the pane (and its screen) until the test reads it`,
    );
    execFileSync('tmux', [
      '-L',
      tmux.socket,
      'new-window',
      '-d',
      '-t',
      'keeper',
      '-c',
      h.repo.path,
      '-n',
      'progress',
      process.execPath,
      runner,
    ]);
    const deadline = Date.now() + 30_000;
    let exit: string | undefined;
    let screen = '';
    while (Date.now() < deadline) {
      try {
        exit = readFileSync(done, 'utf8');
        screen = execFileSync('tmux', ['-L', tmux.socket, 'capture-pane', '-p', '-t', 'keeper:progress'], { encoding: 'utf8' });
        execFileSync('tmux', ['-L', tmux.socket, 'kill-window', '-t', 'keeper:progress']);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(exit).toBe('0');
    expect(JSON.parse(readFileSync(out, 'utf8')).processed[0].state).toBe('merged');
    expect(screen).toMatch(/✓ +\d+\.\ds {2}item 1: checking codestrator\/\S+ → main\n/);
    const gate = /✓ +(\d+\.\d)s {2}item 1: gate \S+ -e setTimeout/.exec(screen);
    expect(Number(gate?.[1])).toBeGreaterThanOrEqual(0.6); // the gate's own 600 ms wait
    expect(screen).toMatch(/✓ +\d+\.\ds {2}item 1: publishing onto main\n/);
  });

  it('stays quiet when stderr is not a terminal', async () => {
    const h = await queuedItem();
    const result = cli(h.repo.path, ['call', 'merge.main.process', '{}']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect((result.json as { processed: { state: string }[] }).processed[0]!.state).toBe('merged');
  });
});
