import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tomlString } from '../runners/codex-config.js';
import { STARTUP_TIMEOUT_SEC, TOOL_TIMEOUT_SEC, type ServerCommand } from './codex-block.js';
import { scanToml } from './toml-scan.js';
import type { TargetName } from './types.js';

/** Where one target's files are, for one scope. */
export interface TargetLayout {
  target: TargetName;
  scope: 'project' | 'global';
  /** The project's top level, or the user's home: manifest paths are relative to it. */
  base: string;
  config: string;
  configFormat: 'codex-toml' | 'json' | 'jsonc';
  skillsDir: string;
  manifest: string;
}

/** The user's directories, read from the environment the command runs in (tests point them at temp dirs). */
export interface Homes {
  home: string;
  /** $CODEX_HOME, else ~/.codex. */
  codexHome: string;
  /** $GEMINI_CLI_HOME, else ~ (Gemini reads `<it>/.gemini`). */
  geminiHome: string;
}

/**
 * Each target's files. Project scope: `.codex/config.toml` + `.agents/skills/` (Codex),
 * `.mcp.json` + `.claude/skills/` (Claude Code), `.gemini/settings.json` + `.gemini/skills/`
 * (Gemini CLI). Global: `$CODEX_HOME/config.toml` + `~/.agents/skills/`, `~/.claude.json` (its
 * user-scope `mcpServers`) + `~/.claude/skills/`, `~/.gemini/settings.json` + `~/.gemini/skills/`.
 * The manifest is `<base>/.codestrator/install-<target>.json` (`install-<target>-global.json` in ~).
 */
export function targetLayout(target: TargetName, scope: { top: string } | { homes: Homes }): TargetLayout {
  const global = 'homes' in scope;
  const base = global ? scope.homes.home : scope.top;
  const manifest = join(base, '.codestrator', `install-${target}${global ? '-global' : ''}.json`);
  const common = { target, scope: global ? ('global' as const) : ('project' as const), base, manifest };
  switch (target) {
    case 'codex':
      return {
        ...common,
        config: global ? join(scope.homes.codexHome, 'config.toml') : join(base, '.codex', 'config.toml'),
        configFormat: 'codex-toml',
        skillsDir: join(base, '.agents', 'skills'),
      };
    case 'claude':
      return {
        ...common,
        config: global ? join(base, '.claude.json') : join(base, '.mcp.json'),
        configFormat: 'json',
        skillsDir: join(base, '.claude', 'skills'),
      };
    case 'gemini': {
      const root = global ? join(scope.homes.geminiHome, '.gemini') : join(base, '.gemini');
      return { ...common, config: join(root, 'settings.json'), configFormat: 'jsonc', skillsDir: join(root, 'skills') };
    }
  }
}

/**
 * The `mcpServers.codestrator` value for a JSON target. Claude Code and Gemini CLI hand a stdio
 * server their own environment (Gemini minus variables named like secrets), so the identity
 * variables need no mapping. Gemini: `trust` skips the per-call confirmation (as Codex's approve
 * mode does), `timeout` in ms covers a merge-queue call that runs the gate.
 */
export function jsonEntry(target: 'claude' | 'gemini', server: ServerCommand): object {
  if (target === 'claude') return { type: 'stdio', command: server.command, args: server.args };
  return { command: server.command, args: server.args, timeout: TOOL_TIMEOUT_SEC * 1000, trust: true };
}

/** What the user must still do after installing, per target and scope. */
export function nextSteps(layout: TargetLayout, homes: Homes): string[] {
  const project = layout.scope === 'project';
  switch (layout.target) {
    case 'codex': {
      const steps: string[] = [];
      if (project && !codexTrusts(homes.codexHome, layout.base)) {
        steps.push(
          'Trust this project in Codex: it reads .codex/config.toml only in trusted projects. Codex asks on its first start here,',
          `  or add these two lines to ${join(homes.codexHome, 'config.toml')}:`,
          `    [projects.${tomlString(layout.base)}]`,
          '    trust_level = "trusted"',
        );
      }
      steps.push(
        'Restart Codex (running sessions keep their old MCP servers).',
        `Check: \`codex mcp list\`${project ? ' in this project' : ''} lists codestrator; \`/mcp\` inside Codex shows its tools.`,
        `Tool calls may take up to ${TOOL_TIMEOUT_SEC} s (queue processing runs the gate); the server gets ${STARTUP_TIMEOUT_SEC} s to start.`,
      );
      return steps;
    }
    case 'claude':
      return [
        project
          ? 'Restart Claude Code in this project and approve the codestrator server from .mcp.json when it asks.'
          : 'Restart Claude Code (user-scope servers load in every project).',
        'Check: `claude mcp list`, or `/mcp` inside Claude Code.',
      ];
    case 'gemini':
      return [
        project
          ? 'Restart Gemini CLI in this project and trust the folder when it asks: it starts stdio MCP servers only in trusted folders.'
          : 'Restart Gemini CLI.',
        'Check: `gemini mcp list`, or `/mcp` inside Gemini CLI; `/skills list` shows the skills.',
      ];
  }
}

/** Whether $CODEX_HOME/config.toml has `[projects."<path>"] trust_level = "trusted"` (an unreadable file: no). */
function codexTrusts(codexHome: string, path: string): boolean {
  const file = join(codexHome, 'config.toml');
  if (!existsSync(file)) return false;
  try {
    return scanToml(readFileSync(file, 'utf8')).some(
      (entry) =>
        entry.path.length === 3 &&
        entry.path[0] === 'projects' &&
        entry.path[1] === path &&
        entry.path[2] === 'trust_level' &&
        entry.string === 'trusted',
    );
  } catch {
    return false;
  }
}
