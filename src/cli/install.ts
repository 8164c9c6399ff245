import type { Command } from 'commander';
import { InstallError, isTarget, runInstaller, TARGETS } from '../install/index.js';

interface InstallFlags {
  global?: boolean;
  dryRun?: boolean;
}

/**
 * `codestrator install <target>` and `codestrator uninstall <target>`. Exit codes: 0 done,
 * 1 refused or a file could not be read (stderr says which and what to do), 2 unknown target.
 */
export function registerInstall(program: Command, setExitCode: (code: number) => void): void {
  for (const action of ['install', 'uninstall'] as const) {
    program
      .command(action)
      .description(
        action === 'install'
          ? `Wire codestrator into ${TARGETS.join(' | ')}: its MCP server entry and skills, in this repository (or --global for your user config)`
          : 'Remove what `codestrator install <target>` added, restoring the files it changed',
      )
      .argument('<target>', TARGETS.join(' | '))
      .option('--global', "the user's configuration instead of the repository containing the current directory")
      .option('--dry-run', 'print the diff of every file it would change; write nothing')
      .action((target: string, flags: InstallFlags) => {
        if (!isTarget(target)) {
          process.stderr.write(`codestrator ${action}: unknown target "${target}"; targets: ${TARGETS.join(', ')}\n`);
          setExitCode(2);
          return;
        }
        try {
          const options = { target, global: flags.global === true, dryRun: flags.dryRun === true, cwd: process.cwd(), env: process.env };
          process.stdout.write(runInstaller(action, options));
          setExitCode(0);
        } catch (error) {
          if (!(error instanceof InstallError)) throw error;
          process.stderr.write(`codestrator ${action}: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ''}`);
          setExitCode(1);
        }
      });
  }
}
