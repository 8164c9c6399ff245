import type { Command } from 'commander';

interface DemoFlags {
  json?: boolean;
  keep?: boolean;
  dir?: string;
  serve: boolean;
}

/** Exit code after Ctrl-C, as a shell reports a SIGINT. */
const INTERRUPTED = 130;

/**
 * The demo's environment: the caller's codestrator identity and repository are dropped, so the
 * demo only ever acts on its own repository (CODESTRATOR_TMUX_SOCKET is kept).
 */
function demoEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of ['CODESTRATOR_REPO', 'CODESTRATOR_STATE_DIR', 'CODESTRATOR_SESSION_ID', 'CODESTRATOR_THREAD_ID']) delete clean[name];
  return clean;
}

/** `codestrator demo`: runs the offline demo; narration on stdout (or one JSON object with --json). */
async function runDemoCommand(flags: DemoFlags): Promise<number> {
  // Loaded on use, so other commands do not pay for the demo.
  const [{ runDemo }, { renderReport }, { DemoAborted, DemoError }] = await Promise.all([
    import('../demo/run.js'),
    import('../demo/summary.js'),
    import('../demo/call.js'),
  ]);
  const json = flags.json === true;
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  // One Ctrl-C stops the demo and cleans up; a second one gets Node's default (exit at once).
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const report = await runDemo({
      ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
      keep: flags.keep === true,
      serve: flags.serve,
      env: demoEnv(process.env),
      signal: abort.signal,
      say: json ? () => undefined : (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return 0;
  } catch (err) {
    const aborted = err instanceof DemoAborted;
    const step = err instanceof DemoError ? err.step : aborted ? 'interrupted' : 'unexpected error';
    const message = err instanceof Error ? err.message : String(err);
    if (json) {
      const error = { code: aborted ? 'INTERRUPTED' : 'DEMO_FAILED', step, message };
      process.stderr.write(`${JSON.stringify({ error }, null, 2)}\n`);
    } else if (aborted) {
      process.stderr.write(`codestrator demo: interrupted; ${flags.keep === true ? 'everything is kept (--keep)' : 'cleaned up'}\n`);
    } else {
      process.stderr.write(`codestrator demo failed at "${step}": ${message}\n`);
    }
    return aborted ? INTERRUPTED : 1;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
  }
}

/** Registers `codestrator demo`. */
export function registerDemo(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'Offline demo: a temporary repository, a root and three scripted agents in tmux (cases, locks, worktrees), then the merge queue with its gate',
    )
    .option('--json', 'print one JSON object at the end instead of the narration')
    .option('--keep', 'keep the repository, its session and worktrees to inspect afterwards')
    .option('--dir <path>', 'make the repository in this empty (or new) directory instead of a temporary one')
    .option('--no-serve', 'do not start the dashboard')
    .action(async (flags: DemoFlags) => {
      setExitCode(await runDemoCommand(flags));
    });
}
