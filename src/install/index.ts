import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { packageRoot } from '../registry/bundle-info.js';
import { applyChanges } from './apply.js';
import type { ServerCommand } from './codex-block.js';
import { unifiedDiff } from './diff.js';
import { planInstall, planUninstall, type Plan } from './plan.js';
import { packageSkills } from './skills.js';
import { type Homes, nextSteps, targetLayout, type TargetLayout } from './targets.js';
import { type InstallOptions, InstallError } from './types.js';

export { InstallError, isTarget, TARGETS, type TargetName } from './types.js';

/**
 * `codestrator install|uninstall <target>`: plans every change first (refusing before any write),
 * then prints the diff (--dry-run) or applies it. Returns the text for stdout; throws InstallError.
 */
export function runInstaller(action: 'install' | 'uninstall', options: InstallOptions): string {
  const homes = homesOf(options);
  const layout = options.global ? targetLayout(options.target, { homes }) : targetLayout(options.target, { top: gitTopLevel(options) });
  const shown = displayPath(layout, homes);
  const plan =
    action === 'install'
      ? planInstall(layout, serverCommand(), packageSkills(join(packageRoot, 'skills')), shown)
      : planUninstall(layout, shown);
  const flags = `${options.global ? ' --global' : ''}${options.dryRun ? ' --dry-run' : ''}`;
  const title = `codestrator ${action} ${options.target}${flags} (${layout.scope} ${shown(layout.base)})`;
  if (options.dryRun) return dryRun(title, plan, shown);
  applyChanges(plan.changes, plan.emptyDirs);
  const lines: string[] = [];
  if (plan.changes.length === 0) lines.push(`${title}: ${action === 'install' ? 'already up to date' : 'nothing to uninstall'}`);
  else lines.push(title);
  lines.push(...plan.summary.map((line) => `  ${line}`));
  if (action === 'install') lines.push('Next:', ...nextSteps(layout, homes).map((line) => `  ${line}`));
  else if (plan.changes.length > 0) lines.push(`Restart ${clientName(options.target)} so it drops the codestrator server.`);
  return `${lines.join('\n')}\n`;
}

/** The server every target starts: this node on the built CLI (no npx, so it starts fast from any worktree). */
function serverCommand(): ServerCommand {
  const main = join(packageRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(main))
    throw new InstallError(`${main} is missing: codestrator is not built.`, 'Run `npm run build` in the codestrator package first.');
  return { command: process.execPath, args: [main, 'mcp'] };
}

function homesOf(options: InstallOptions): Homes {
  const home = options.env.HOME || homedir();
  return {
    home,
    codexHome: options.env.CODEX_HOME ? resolve(options.cwd, options.env.CODEX_HOME) : join(home, '.codex'),
    geminiHome: options.env.GEMINI_CLI_HOME ? resolve(options.cwd, options.env.GEMINI_CLI_HOME) : home,
  };
}

/** The top level of the git work tree holding cwd; project scope needs one. */
function gitTopLevel(options: InstallOptions): string {
  const env = { ...options.env };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR']) delete env[name];
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], {
      cwd: options.cwd,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    throw new InstallError(
      `${options.cwd} is not inside a git work tree; a project install writes into the repository's top level.`,
      'Run it inside your project, or add --global to install into your user configuration.',
    );
  }
}

/** Paths as the user reads them: relative to the project, or with ~ for the home directory. */
function displayPath(layout: TargetLayout, homes: Homes): (path: string) => string {
  return (path) => {
    if (layout.scope === 'project') {
      const rel = relative(layout.base, path);
      if (rel === '') return layout.base;
      if (!rel.startsWith('..')) return rel;
    }
    if (path === homes.home) return '~';
    return path.startsWith(homes.home + sep) ? `~/${path.slice(homes.home.length + 1)}` : path;
  };
}

function dryRun(title: string, plan: Plan, shown: (path: string) => string): string {
  const out = [
    `${title}: ${plan.changes.length === 0 ? 'nothing to change' : `${plan.changes.length} files would change`}; nothing written`,
  ];
  for (const change of plan.changes.filter((c) => c.kind === 'config')) {
    out.push(unifiedDiff(shown(change.path), change.before?.toString('utf8') ?? null, change.after?.toString('utf8') ?? null).trimEnd());
  }
  const skills = plan.changes.filter((change) => change.kind === 'skill');
  if (skills.length > 0) {
    out.push(`skill files in ${shown(plan.skillsDir)}/:`);
    for (const change of skills) {
      const mark = change.after === null ? '- removed' : change.before === null ? '+ new    ' : '~ changed';
      out.push(`  ${mark} ${relative(plan.skillsDir, change.path)}`);
    }
  }
  const record = plan.changes.find((change) => change.kind === 'manifest');
  if (record)
    out.push(`install record: ${shown(record.path)} (${record.after === null ? 'removed' : record.before === null ? 'new' : 'updated'})`);
  return `${out.join('\n')}\n`;
}

function clientName(target: string): string {
  return target === 'codex' ? 'Codex' : target === 'claude' ? 'Claude Code' : 'Gemini CLI';
}
