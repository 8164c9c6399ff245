#!/usr/bin/env node
/**
 * Runs a headless runner (codex exec --json, claude -p --output-format stream-json) in its tmux
 * pane and keeps its JSONL stdout: `tee-events <events.jsonl> -- <argv...>`.
 *
 * - The runner gets this process's stdin and stderr; its stdout lines are appended to the events
 *   file as they come (one synchronous append per line, so a kill loses nothing already read),
 *   and the pane shows one short readable line per event instead of raw JSON.
 * - SIGINT, SIGTERM and SIGHUP are passed to the runner; this process waits for it to end. (A
 *   Ctrl-C or a signal to the pane's process group reaches the runner directly as well; both CLIs
 *   take a repeated SIGINT or SIGTERM as "stop now", which is what it asks for anyway.)
 * - Exits with the runner's exit code, 128 + the signal number if a signal ended it, or 127 if it
 *   could not be started (as a shell would).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { describeEvent, parseRunnerEvent } from './events.js';

const [eventsPath, separator, ...argv] = process.argv.slice(2);
if (!eventsPath || separator !== '--' || argv.length === 0) {
  process.stderr.write('usage: tee-events <events.jsonl> -- <command> [args...]\n');
  process.exit(2);
}
mkdirSync(dirname(eventsPath), { recursive: true });

const child = spawn(argv[0]!, argv.slice(1), { stdio: ['inherit', 'pipe', 'inherit'] });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}

// The pane may be gone (window killed) while the runner still winds down: keep the events anyway.
process.stdout.on('error', () => undefined);

const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
lines.on('line', (line) => {
  appendFileSync(eventsPath, `${line}\n`);
  const event = parseRunnerEvent(line);
  const shown = event ? describeEvent(event) : line.trim() === '' ? undefined : line;
  if (shown !== undefined) process.stdout.write(`${shown}\n`);
});

let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
let linesDone = false;
child.on('error', (error) => {
  process.stderr.write(`tee-events: could not start ${argv[0]}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  exit = { code, signal };
  finish();
  // Something the runner started may still hold its stdout open; do not wait for it for long.
  setTimeout(() => {
    linesDone = true;
    finish();
  }, 2000);
});
lines.on('close', () => {
  linesDone = true;
  finish();
});

/** Exits once the runner has ended and all of its output has been kept. */
function finish(): void {
  if (!exit || !linesDone) return;
  const { code, signal } = exit;
  process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
}
