import { execFile } from 'node:child_process';
import { CodestratorError } from '../core/errors.js';

/** A tmux invocation that failed: EXTERNAL; classified by exit code and stderr only (send-keys carries prompts). */
export class TmuxError extends CodestratorError {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super('EXTERNAL', `tmux ${args[0] ?? ''} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no output'}`);
    this.name = 'TmuxError';
  }
}

export interface TmuxOptions {
  /** A private server socket name (`tmux -L`); tests and isolated setups use one. */
  socket?: string;
  timeoutMs?: number;
}

/**
 * tmux reads an argument that ends in `;` as the end of a command (and runs what follows as the
 * next one), even in an argument vector: `\;` at the end is its escape for a literal `;`. Applied to
 * every argument, so prompts, titles and paths ending in `;` pass through untouched.
 */
export const escapeTmuxArg = (arg: string): string => (arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg);

/**
 * The one choke point for tmux: an argument vector, never a shell string; stdin closed; a timeout.
 * The user's tmux.conf still applies (base-index and the like), so callers address panes by id.
 */
export function runTmux(args: readonly string[], options: TmuxOptions = {}): Promise<string> {
  const argv = [...(options.socket ? ['-L', options.socket] : []), ...args.map(escapeTmuxArg)];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'tmux',
      argv,
      { timeout: options.timeoutMs ?? 10_000, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        reject(new TmuxError(args, typeof error.code === 'number' ? error.code : null, stderr || error.message));
      },
    );
    child.stdin?.end();
  });
}
