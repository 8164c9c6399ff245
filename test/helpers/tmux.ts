import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private tmux server for one test file, started with a user config that sets base-index 1 and
 * pane-base-index 1 (a common setup that broke the reference), kept alive by a keeper session.
 */
export function privateTmux(): { socket: string; env: Record<string, string>; panes(): string[]; sessions(): string[]; kill(): void } {
  const socket = `cs-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const conf = join(mkdtempSync(join(tmpdir(), 'cs-tmux-')), 'tmux.conf');
  writeFileSync(conf, 'set -g base-index 1\nset -g pane-base-index 1\n');
  execFileSync('tmux', ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'keeper', 'sleep', '3600']);
  const list = (args: string[]) => {
    try {
      return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    socket,
    env: { CODESTRATOR_TMUX_SOCKET: socket },
    panes: () => list(['list-panes', '-a', '-F', '#{session_name} #{pane_id} #{pane_dead}']).filter((line) => !line.startsWith('keeper ')),
    sessions: () => list(['list-sessions', '-F', '#{session_name}']).filter((name) => name !== 'keeper'),
    kill: () => {
      try {
        execFileSync('tmux', ['-L', socket, 'kill-server']);
      } catch {
        // Already gone.
      }
    },
  };
}
