import { Command, CommanderError } from 'commander';
import { createDispatcher } from '../app/services.js';
import { INIT_VAR } from '../app/workspace.js';
import { packageVersion } from '../registry/bundle-info.js';
import { readCallParams, runCall } from './call.js';
import { registerDemo } from './demo.js';
import { renderDoctor } from './doctor.js';
import { renderGc } from './gc.js';
import { runHook } from './hook.js';
import { registerInstall } from './install.js';
import { renderMethods } from './methods.js';
import { registerServe } from './serve.js';
import { renderStatus } from './status.js';
import { VIEWS, renderView } from './views.js';

export interface CliProgram {
  /** Runs the CLI; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

const dispatcher = () => createDispatcher(process.cwd(), process.env);

/** The `codestrator` command tree. Output goes to stdout, errors to stderr; the exit code is returned. */
export function buildProgram(): CliProgram {
  let exitCode = 0;
  const program = new Command('codestrator')
    .description('Coordinate several coding agents on one git repository (MCP server + CLI).')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('mcp')
    .description('Serve MCP over stdio (what Codex, Claude Code and Gemini CLI start)')
    .action(async () => {
      const { serveStdio } = await import('../mcp/stdio.js');
      await serveStdio(process.cwd(), process.env);
    });

  program
    .command('call')
    .description('Call one method; params as a JSON argument or "-" for stdin. Prints the result JSON; exit 1 on error')
    .argument('<method>', 'method name, e.g. task.list')
    .argument('[params]', 'JSON object, or - to read it from stdin', '{}')
    .action(async (method: string, params: string) => {
      exitCode = await runCall(dispatcher(), method, await readCallParams(params));
    });

  program
    .command('methods')
    .description("List every method, or show one method's params schema and example")
    .argument('[method]', 'a method name')
    .option('--json', 'print JSON')
    .action(async (method: string | undefined, options: { json?: boolean }) => {
      exitCode = await renderMethods(dispatcher(), method, options.json === true);
    });

  program
    .command('init')
    .description('Prepare .codestrator/ (state database, worktrees, mirror) for this repository')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      // The one command that may create state in a new CODESTRATOR_STATE_DIR.
      const outcome = await createDispatcher(process.cwd(), { ...process.env, [INIT_VAR]: '1' }).call('workspace.init', {});
      if (!outcome.ok) {
        exitCode = runCallFailure(outcome.error);
        return;
      }
      const r = outcome.result as Record<string, unknown>;
      process.stdout.write(
        options.json
          ? `${JSON.stringify(r, null, 2)}\n`
          : `codestrator ready in ${r.repo_path}\n  state: ${r.state_dir}\n  database: ${r.db_path} (schema ${r.schema_version})\n  main branch: ${r.main_branch ?? 'unknown'}\n`,
      );
    });

  program
    .command('status')
    .description('Sessions, cases in progress and locks, in short')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      exitCode = await renderStatus(dispatcher(), options.json === true);
    });

  for (const view of VIEWS) {
    program
      .command(view.name)
      .description(view.description)
      .option('--json', 'print JSON')
      .action(async (options: { json?: boolean }) => {
        exitCode = await renderView(dispatcher(), view, options.json === true);
      });
  }

  program
    .command('hook')
    .description('Run a git hook check in a codestrator worktree (installed by codestrator; refuses commits of paths others locked)')
    .argument('<name>', 'hook name, e.g. pre-commit')
    .argument('[args...]', 'arguments git passed (ignored)')
    .action(async (name: string) => {
      exitCode = await runHook(dispatcher(), name);
    });

  program
    .command('gc')
    .description('List (dry run) or remove worktrees and branches of merged or abandoned work; never dirty or unmerged ones')
    .option('--apply', 'remove what the list shows')
    .option('--json', 'print JSON')
    .action(async (options: { apply?: boolean; json?: boolean }) => {
      exitCode = await renderGc(dispatcher(), { apply: options.apply === true, json: options.json === true });
    });

  program
    .command('doctor')
    .description('Show (dry run) or repair work a dead process left: stale locks, half-created worktrees, queue items, gate runs')
    .option('--apply', 'repair what the list shows')
    .option('--json', 'print JSON')
    .action(async (options: { apply?: boolean; json?: boolean }) => {
      const own = createDispatcher(process.cwd(), process.env, { recoverOnStart: false });
      exitCode = await renderDoctor(own, { apply: options.apply === true, json: options.json === true });
    });

  registerServe(program, (code) => (exitCode = code));
  registerDemo(program, (code) => (exitCode = code));
  registerInstall(program, (code) => (exitCode = code));
  return {
    async run(argv) {
      try {
        await program.parseAsync([...argv], { from: 'user' });
        return exitCode;
      } catch (err) {
        if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
        throw err;
      }
    },
  };
}

function runCallFailure(error: unknown): number {
  process.stderr.write(`${JSON.stringify(error, null, 2)}\n`);
  return 1;
}
