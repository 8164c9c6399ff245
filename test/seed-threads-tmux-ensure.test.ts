import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';

/**
 * runtime.tmux.ensure as the contract says: auto_install defaults to true, but an install is only
 * tried where no password is needed, and nothing ever prompts. Nothing is installed for real: the
 * PATH holds only stand-ins written here (apt-get "installs" a stand-in tmux into the same
 * directory; sudo succeeds or refuses as told), and CODESTRATOR_UID says whether we are root.
 */
let h: Harness;
beforeAll(() => {
  h = openHarness();
});
afterAll(() => h?.repo.cleanup());

/** A directory with stand-in apt-get (and sudo, when given its exit status) that log their argv. */
function standIns(sudoExit?: number): { bin: string; log: string } {
  const bin = mkdtempSync(join(tmpdir(), 'cs-standin-bin-'));
  const log = join(bin, 'calls.log');
  const tmux = join(bin, 'tmux');
  writeFileSync(
    join(bin, 'apt-get'),
    [
      '#!/bin/sh',
      `echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> '${log}'`,
      'if [ "$1" = install ]; then',
      `  printf '#!/bin/sh\\necho tmux 9.9-standin\\n' > '${tmux}'`,
      `  /bin/chmod 755 '${tmux}'`,
      'fi',
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  if (sudoExit !== undefined) {
    writeFileSync(
      join(bin, 'sudo'),
      [
        '#!/bin/sh',
        `echo "sudo $*" >> '${log}'`,
        `[ ${sudoExit} -ne 0 ] && exit ${sudoExit}`,
        '[ "$1" = -n ] && shift',
        '[ "$1" = true ] && exit 0',
        'exec "$@"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    // sudo passes DEBIAN_FRONTEND on through env(1).
    symlinkSync('/usr/bin/env', join(bin, 'env'));
  }
  return { bin, log };
}

const calls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

describe('runtime.tmux.ensure (stand-in package manager, nothing installed for real)', () => {
  it('as root, installs by default (auto_install defaults to true), non-interactively, then reports ready', async () => {
    const { bin, log } = standIns();
    const asRoot = h.as({ PATH: bin, CODESTRATOR_UID: '0' });
    const ensured = await asRoot.ok('runtime.tmux.ensure', { session_id: 1 });
    expect(ensured).toMatchObject({ status: 'installed', version: 'tmux 9.9-standin', package_manager: 'apt-get', privilege: 'root' });
    expect(ensured.attempts.map((a: { command: string[] }) => a.command)).toEqual([
      ['apt-get', 'update', '-q'],
      ['apt-get', 'install', '-y', '-q', 'tmux'],
    ]);
    expect(ensured.install_log).toContain('$ apt-get install -y -q tmux (exit 0)');
    expect(ensured.notes[0]).toMatch(/^session_id: /);
    expect(calls(log)).toEqual([
      'apt-get update -q DEBIAN_FRONTEND=noninteractive',
      'apt-get install -y -q tmux DEBIAN_FRONTEND=noninteractive',
    ]);
    expect(await asRoot.ok('runtime.tmux.ensure')).toMatchObject({ status: 'ready', version: 'tmux 9.9-standin', attempts: [] });
  });

  it('not root, with passwordless sudo: installs through sudo -n', async () => {
    const { bin, log } = standIns(0);
    const ensured = await h.as({ PATH: bin, CODESTRATOR_UID: '1000' }).ok('runtime.tmux.ensure', { auto_install: true });
    expect(ensured).toMatchObject({ status: 'installed', privilege: 'sudo -n' });
    expect(ensured.attempts[1].command).toEqual([
      'sudo',
      '-n',
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install',
      '-y',
      '-q',
      'tmux',
    ]);
    expect(calls(log)[0]).toBe('sudo -n true');
    expect(calls(log)).toContain('apt-get install -y -q tmux DEBIAN_FRONTEND=noninteractive');
  });

  it('not root, and sudo wants a password: manual_required with the exact commands, nothing run', async () => {
    const { bin, log } = standIns(1);
    const ensured = await h.as({ PATH: bin, CODESTRATOR_UID: '1000' }).ok('runtime.tmux.ensure');
    expect(ensured).toMatchObject({
      status: 'manual_required',
      version: null,
      package_manager: 'apt-get',
      privilege: 'password required',
      attempts: [],
      manual_commands: ['sudo apt-get update -q && sudo apt-get install -y -q tmux'],
    });
    expect(ensured.reason).toMatch(/needs a password/);
    expect(calls(log)).toEqual(['sudo -n true']);
    expect(existsSync(join(bin, 'tmux'))).toBe(false);
  });

  it('auto_install false: manual_required even as root, nothing run', async () => {
    const { bin, log } = standIns();
    const ensured = await h.as({ PATH: bin, CODESTRATOR_UID: '0' }).ok('runtime.tmux.ensure', { auto_install: false });
    expect(ensured).toMatchObject({ status: 'manual_required', reason: 'auto_install is false', attempts: [] });
    expect(calls(log)).toEqual([]);
  });
});
