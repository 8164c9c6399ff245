import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, fstatSync } from 'node:fs';
import { dirname } from 'node:path';

export interface GateRun {
  cwd: string;
  /** An argument vector, or a command line run by `bash --norc --noprofile -c` (the user's config). */
  command: string | readonly string[];
  timeoutMs: number;
  logPath: string;
  env?: Record<string, string>;
  /** Called with the pid that leads the gate's process group once it started. */
  onStart?: (pid: number) => void;
}

export interface GateResult {
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** The last lines of the log (at most ~4 KB). */
  tail: string;
}

const TAIL_BYTES = 4096;

function readTail(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    return size > length ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs the repository's gate command with its output (stdout and stderr) in a log file, in its own
 * process group so a timeout kills everything it started (SIGTERM, then SIGKILL after 5 s).
 */
export function runGate(run: GateRun): Promise<GateResult> {
  mkdirSync(dirname(run.logPath), { recursive: true });
  const log = openSync(run.logPath, 'w');
  const argv = typeof run.command === 'string' ? ['bash', '--norc', '--noprofile', '-c', run.command] : [...run.command];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: run.cwd,
      env: { ...process.env, CI: '1', CODESTRATOR_GATE: '1', ...run.env },
      stdio: ['ignore', log, log],
      detached: true,
    });
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5000).unref();
    }, run.timeoutMs);
    const done = (exitCode: number | null, note?: string) => {
      clearTimeout(timer);
      closeSync(log);
      const tail =
        readTail(run.logPath) + (note ? `\n${note}\n` : timedOut ? `\n[codestrator] gate timed out after ${run.timeoutMs} ms\n` : '');
      resolve({ exitCode, timedOut, durationMs: Date.now() - started, tail });
    };
    child.on('error', (err) => done(null, `[codestrator] could not start the gate: ${err.message}`));
    if (child.pid) run.onStart?.(child.pid);
    child.on('close', (code) => done(code));
  });
}
