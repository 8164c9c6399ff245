import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

/** What ensureTmuxInstalled found and did (core/ports.ts has the same shape for the domain). */
export interface TmuxInstallReport {
  status: 'ready' | 'installed' | 'manual_required';
  version: string | null;
  package_manager: string | null;
  /** How an install could run here: as root, through `sudo -n`, as the user (brew), or not without a password. */
  privilege: 'root' | 'sudo -n' | 'user' | 'password required' | null;
  attempts: InstallAttempt[];
  /** The exact commands a person runs to install it (set when status is manual_required). */
  manual_commands: string[];
  reason?: string;
}

/** One command tried while installing tmux, with what it printed. */
export interface InstallAttempt {
  command: string[];
  exit_code: number | null;
  output: string;
}

/** Package managers in the order they are looked for, with the argv that installs tmux without a question. */
const MANAGERS: readonly { name: string; root: boolean; commands: string[][] }[] = [
  {
    name: 'apt-get',
    root: true,
    commands: [
      ['apt-get', 'update', '-q'],
      ['apt-get', 'install', '-y', '-q', 'tmux'],
    ],
  },
  { name: 'dnf', root: true, commands: [['dnf', 'install', '-y', 'tmux']] },
  { name: 'yum', root: true, commands: [['yum', 'install', '-y', 'tmux']] },
  { name: 'zypper', root: true, commands: [['zypper', '--non-interactive', 'install', 'tmux']] },
  { name: 'pacman', root: true, commands: [['pacman', '-Sy', '--noconfirm', 'tmux']] },
  { name: 'apk', root: true, commands: [['apk', 'add', 'tmux']] },
  { name: 'brew', root: false, commands: [['brew', 'install', 'tmux']] },
];

const INSTALL_TIMEOUT_MS = 300_000;

/** The first executable of that name on PATH, or null. */
export function onPath(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** Runs an argv with stdin closed and no terminal, so nothing can ever prompt; never rejects. */
function run(argv: readonly string[], env: Env, timeoutMs: number): Promise<InstallAttempt> {
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    const child = execFile(
      onPath(file!, env.PATH) ?? file!,
      args,
      {
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } as NodeJS.ProcessEnv,
        timeout: timeoutMs,
        encoding: 'utf8',
        maxBuffer: 8 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        const output = `${stdout}${stderr}${error && code === null ? error.message : ''}`;
        resolve({ command: [...argv], exit_code: code, output: output.slice(-2000) });
      },
    );
    child.stdin?.end();
  });
}

/** `tmux -V` with the tmux found on that PATH; null when there is none or it does not run. */
export async function tmuxVersionOn(env: Env): Promise<string | null> {
  if (!onPath('tmux', env.PATH)) return null;
  const attempt = await run(['tmux', '-V'], env, 10_000);
  return attempt.exit_code === 0 ? attempt.output.trim() : null;
}

const shellWords = (argv: readonly string[]) => argv.join(' ');

/**
 * Makes sure tmux is there. An install is tried only when auto_install is set and it needs no
 * password: as root, as the user for brew, or through `sudo -n` once `sudo -n true` succeeded.
 * Otherwise the answer is manual_required with the exact commands for the package manager found.
 * CODESTRATOR_UID (in env) stands for the process's user id in that decision, so tests can take
 * both paths; nothing here ever waits for input (stdin closed, sudo -n, DEBIAN_FRONTEND).
 */
export async function ensureTmuxInstalled(env: Env, options: { autoInstall: boolean }): Promise<TmuxInstallReport> {
  const version = await tmuxVersionOn(env);
  const base = { version, attempts: [] as InstallAttempt[], manual_commands: [] as string[] };
  if (version) return { ...base, status: 'ready', package_manager: null, privilege: null };
  const manager = MANAGERS.find((candidate) => onPath(candidate.name, env.PATH));
  if (!manager) {
    return {
      ...base,
      status: 'manual_required',
      package_manager: null,
      privilege: null,
      manual_commands: ['Install tmux with your system package manager (e.g. sudo apt-get install -y tmux, or brew install tmux).'],
      reason: 'no known package manager (apt-get, dnf, yum, zypper, pacman, apk, brew) on PATH',
    };
  }
  const uid = env.CODESTRATOR_UID !== undefined ? Number(env.CODESTRATOR_UID) : process.getuid?.();
  const manual = manager.root
    ? [manager.commands.map((argv) => `sudo ${shellWords(argv)}`).join(' && ')]
    : [manager.commands.map(shellWords).join(' && ')];
  let prefix: string[] | null;
  let privilege: TmuxInstallReport['privilege'];
  if (!manager.root) [prefix, privilege] = [[], 'user'];
  else if (uid === 0) [prefix, privilege] = [[], 'root'];
  else if (onPath('sudo', env.PATH) && (await run(['sudo', '-n', 'true'], env, 10_000)).exit_code === 0)
    [prefix, privilege] = [['sudo', '-n'], 'sudo -n'];
  else [prefix, privilege] = [null, 'password required'];
  const found = { package_manager: manager.name, privilege, manual_commands: manual };
  if (!options.autoInstall) return { ...base, ...found, status: 'manual_required', reason: 'auto_install is false' };
  if (prefix === null)
    return { ...base, ...found, status: 'manual_required', reason: 'installing needs a password (not root, and sudo -n is refused)' };
  const attempts: InstallAttempt[] = [];
  for (const argv of manager.commands) {
    // sudo drops the environment: env carries DEBIAN_FRONTEND through it.
    const full = prefix.length > 0 ? [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', ...argv] : argv;
    const attempt = await run(full, env, INSTALL_TIMEOUT_MS);
    attempts.push(attempt);
    if (attempt.exit_code !== 0) break;
  }
  const after = await tmuxVersionOn(env);
  if (after) return { ...found, version: after, attempts, manual_commands: [], status: 'installed' };
  return { ...found, version: null, attempts, status: 'manual_required', reason: 'the install did not leave a working tmux on PATH' };
}

/** What an install attempt printed, one block per command. */
export function installLog(report: Pick<TmuxInstallReport, 'attempts'>): string {
  return report.attempts
    .map((attempt) => `$ ${attempt.command.join(' ')} (exit ${attempt.exit_code ?? 'none'})\n${attempt.output}`)
    .join('\n');
}
