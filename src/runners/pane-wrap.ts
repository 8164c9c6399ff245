#!/usr/bin/env node
// Runs a child agent inside its tmux pane and records how it ended, so codestrator can tell
// "completed", "failed with status N" and "killed by SIGKILL" apart even after the pane closes.
// The child's environment comes from a JSON file, not from tmux: tmux does not apply every
// variable given to new-window -e (PATH among them), and the file keeps them off command lines.
// Usage: pane-wrap <exit-file> <env-file> -- <argv...>
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const [exitFile, envFile, separator, ...argv] = process.argv.slice(2);
if (!exitFile || !envFile || separator !== '--' || argv.length === 0) {
  process.stderr.write('usage: pane-wrap <exit-file> <env-file> -- <command> [args...]\n');
  process.exit(2);
}
const env = { ...process.env, ...(JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>) };

function record(status: { code: number | null; signal: string | null; error?: string }): void {
  mkdirSync(dirname(exitFile!), { recursive: true });
  const temp = `${exitFile}.tmp`;
  writeFileSync(temp, JSON.stringify({ ...status, at: Date.now() }));
  renameSync(temp, exitFile!);
}

const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (err) => {
  record({ code: 127, signal: null, error: err.message });
  process.stderr.write(`codestrator: could not start ${argv[0]}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  record({ code, signal });
  process.exit(code ?? 128 + 9);
});
