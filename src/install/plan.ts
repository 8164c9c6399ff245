import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { installCodexBlock, removeCodexBlock, type ServerCommand } from './codex-block.js';
import { installJsonServer, type JsonInsertion, uninstallJsonServer } from './json-config.js';
import { deepestFirst, planSkillsInstall, planSkillsUninstall, type Skill, SKILL_MARKER } from './skills.js';
import { jsonEntry, type TargetLayout } from './targets.js';
import { type FileChange, InstallError, type TargetName } from './types.js';

/**
 * What the installer records in `.codestrator/install-<target>.json`, so uninstall can delete what
 * it created (files, directories, the `mcpServers` key) and nothing else. Paths are relative to
 * the layout's base (the project's top level, or ~). Deterministic, so reinstalling rewrites
 * it byte for byte.
 */
interface Manifest {
  about: string;
  target: TargetName;
  scope: 'project' | 'global';
  /** The config file whose codestrator entry the installer wrote. */
  config: string;
  /** Where the skills went (Gemini's move with GEMINI_CLI_HOME); uninstall looks there. */
  skills_dir?: string;
  created_files: string[];
  created_dirs: string[];
  created_keys: string[];
  /** Codex: the text put before the managed block (a newline, a blank line, or nothing). */
  separator?: string;
  /** JSON: the member install added and the bytes around it, so uninstall removes exactly them. */
  inserted?: JsonInsertion;
}

/** Changes to make, directories to remove once empty, and what they amount to in words. */
export interface Plan {
  changes: FileChange[];
  emptyDirs: string[];
  summary: string[];
  /** Where the skill files are: the layout's, or for uninstall the recorded one. */
  skillsDir: string;
}

/** The plan for `install <target>`; throws InstallError (before any write) when it must refuse. */
export function planInstall(layout: TargetLayout, server: ServerCommand, skills: Skill[], shown: (path: string) => string): Plan {
  const previous = readManifest(layout, shown);
  const rel = (path: string) => relative(layout.base, path);
  const recorded = previous && resolve(layout.base, previous.config);
  if (recorded && recorded !== layout.config && existsSync(recorded)) {
    throw new InstallError(
      `${shown(layout.manifest)} records codestrator's entry in ${shown(recorded)}, but this environment's config is ${shown(layout.config)}.`,
      `Run \`codestrator uninstall ${layout.target}${layout.scope === 'global' ? ' --global' : ''}\` first (it uses the recorded file), or run with the ${homeVariable(layout)} it was installed with.`,
    );
  }
  const configPath = writablePath(layout.config);
  const before = readText(configPath);
  let after: string;
  let createdKeys = previous?.created_keys ?? [];
  let separator = previous?.separator;
  let inserted = previous?.inserted;
  if (layout.configFormat === 'codex-toml') {
    const result = installCodexBlock(before, server, shown(layout.config));
    after = result.text;
    if (result.separator !== null) separator = result.separator;
  } else {
    const ctx = {
      file: shown(layout.config),
      comments: layout.configFormat === 'jsonc',
      owned: previous?.config === rel(layout.config),
      createdKeys,
      ...(inserted ? { inserted } : {}),
    };
    const result = installJsonServer(before, jsonEntry(layout.target as 'claude' | 'gemini', server), ctx);
    after = result.text;
    createdKeys = result.createdKeys;
    inserted = result.inserted;
  }
  const changes: FileChange[] = [];
  if (after !== before) changes.push({ path: configPath, before: buffer(before), after: Buffer.from(after), mode: 0o644, kind: 'config' });
  const skillsPlan = planSkillsInstall(layout.skillsDir, skills, shown);
  changes.push(...skillsPlan.changes);

  const createdFiles = new Set(previous?.created_files ?? []);
  if (before === null) createdFiles.add(rel(layout.config));
  const createdDirs = new Set(previous?.created_dirs ?? []);
  for (const path of [layout.manifest, ...changes.filter((change) => change.after !== null).map((change) => change.path)]) {
    for (let dir = dirname(path); !existsSync(dir); dir = dirname(dir)) createdDirs.add(rel(dir));
  }
  const manifest: Manifest = {
    about: `Written by \`codestrator install ${layout.target}\`; \`codestrator uninstall ${layout.target}\` reads it to remove exactly what was installed.`,
    target: layout.target,
    scope: layout.scope,
    config: rel(layout.config),
    skills_dir: rel(layout.skillsDir),
    created_files: [...createdFiles].sort(),
    created_dirs: [...createdDirs].sort(),
    created_keys: [...createdKeys].sort(),
    ...(separator !== undefined ? { separator } : {}),
    ...(inserted ? { inserted } : {}),
  };
  const manifestText = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const manifestBefore = readBuffer(layout.manifest);
  // The record goes first: if a later write fails, uninstall still knows what was created.
  const recordChanged = !manifestBefore?.equals(manifestText);
  if (recordChanged) changes.unshift({ path: layout.manifest, before: manifestBefore, after: manifestText, mode: 0o644, kind: 'manifest' });

  const summary: string[] = [];
  if (after !== before) summary.push(`${before === null ? 'created' : 'updated'} ${shown(layout.config)}: ${entryName(layout)}`);
  const skillChanges = skillsPlan.changes.filter((change) => !change.path.endsWith(SKILL_MARKER));
  if (skillChanges.length > 0) {
    const removed = skillChanges.filter((change) => change.after === null).length;
    const counts = `${skillChanges.length - removed} files written${removed > 0 ? `, ${removed} removed` : ''}`;
    summary.push(`installed skills ${skills.map((skill) => skill.name).join(', ')} in ${shown(layout.skillsDir)}/ (${counts})`);
  }
  if (recordChanged) summary.push(`recorded the installation in ${shown(layout.manifest)}`);
  return { changes, emptyDirs: skillsPlan.emptyDirs, summary, skillsDir: layout.skillsDir };
}

/**
 * The plan for `uninstall <target>`: the entry (in the config file the record names, wherever the
 * environment points now), the skills, and what install created. Refuses, keeping the record,
 * when the recorded config is gone and the environment names another.
 */
export function planUninstall(layout: TargetLayout, shown: (path: string) => string): Plan {
  const manifest = readManifest(layout, shown);
  const rel = (path: string) => relative(layout.base, path);
  const abs = (path: string) => resolve(layout.base, path);
  const config = manifest ? abs(manifest.config) : layout.config;
  const skillsDir = manifest?.skills_dir !== undefined ? abs(manifest.skills_dir) : layout.skillsDir;
  if (config !== layout.config && !existsSync(config)) {
    throw new InstallError(
      `${shown(layout.manifest)} records codestrator's entry in ${shown(config)}, which is gone; this environment's config is ${shown(layout.config)}.`,
      `Restore ${shown(config)}, or run with the ${homeVariable(layout)} it was installed with; or delete ${shown(layout.manifest)} to uninstall from ${shown(layout.config)} instead.`,
    );
  }
  const created = new Set(manifest?.created_files ?? []);
  const changes: FileChange[] = [];
  const summary: string[] = [];
  let foreign = false;
  const configPath = writablePath(config);
  const before = readText(configPath);
  if (before !== null) {
    let result: { text: string; empty?: boolean; foreign: boolean };
    if (layout.configFormat === 'codex-toml') result = removeCodexBlock(before, manifest?.separator ?? null, shown(config));
    else {
      const ctx = {
        file: shown(config),
        comments: layout.configFormat === 'jsonc',
        owned: manifest !== null,
        createdKeys: manifest?.created_keys ?? [],
        ...(manifest?.inserted ? { inserted: manifest.inserted } : {}),
      };
      result = uninstallJsonServer(before, ctx);
    }
    foreign = result.foreign;
    if (foreign)
      summary.push(`left the codestrator entry in ${shown(config)}: it is not what codestrator install writes; remove it yourself`);
    const after = result.text;
    const empty = result.empty ?? after.trim() === '';
    const remove = after !== before && empty && created.has(rel(config));
    if (after !== before) {
      changes.push({ path: configPath, before: Buffer.from(before), after: remove ? null : Buffer.from(after), kind: 'config' });
      summary.push(`${remove ? 'removed' : 'updated'} ${shown(config)}: ${entryName(layout)} removed`);
    }
  }
  const skillsPlan = planSkillsUninstall(skillsDir, shown);
  changes.push(...skillsPlan.changes);
  const skillFiles = skillsPlan.changes.filter((change) => !change.path.endsWith(SKILL_MARKER)).length;
  if (skillFiles > 0) summary.push(`removed ${skillFiles} skill files from ${shown(skillsDir)}/`);
  const manifestBefore = readBuffer(layout.manifest);
  // The record goes only with what it records: an entry left in place keeps it (run uninstall again once it is gone).
  if (manifestBefore && foreign) summary.push(`kept the install record ${shown(layout.manifest)}`);
  else if (manifestBefore) changes.push({ path: layout.manifest, before: manifestBefore, after: null, kind: 'manifest' });
  const dirs = [...(manifest?.created_dirs ?? []).map(abs), ...skillsPlan.emptyDirs, dirname(layout.manifest)];
  return { changes, emptyDirs: deepestFirst(dirs), summary, skillsDir };
}

/** The variable that moves a target's user config (global scope). */
function homeVariable(layout: TargetLayout): string {
  return layout.target === 'codex' ? 'CODEX_HOME' : layout.target === 'gemini' ? 'GEMINI_CLI_HOME' : 'HOME';
}

function entryName(layout: TargetLayout): string {
  return layout.configFormat === 'codex-toml' ? '[mcp_servers.codestrator]' : 'mcpServers.codestrator';
}

function readManifest(layout: TargetLayout, shown: (path: string) => string): Manifest | null {
  const text = readText(layout.manifest);
  if (text === null) return null;
  try {
    const manifest = JSON.parse(text) as Manifest;
    const shape =
      typeof manifest.config === 'string' &&
      ['string', 'undefined'].includes(typeof manifest.skills_dir) &&
      Array.isArray(manifest.created_files) &&
      Array.isArray(manifest.created_dirs);
    if (manifest.target !== layout.target || !shape) {
      throw new Error('unexpected content');
    }
    const { inserted, ...rest } = manifest;
    const usable = typeof inserted?.before === 'string' && typeof inserted.after === 'string'; // else uninstall removes by structure
    return {
      ...rest,
      created_keys: Array.isArray(manifest.created_keys) ? manifest.created_keys : [],
      ...(usable ? { inserted } : {}),
    };
  } catch (error) {
    throw new InstallError(
      `${shown(layout.manifest)} is not a valid install record (${(error as Error).message}).`,
      'Delete it and run again; the installer then treats every file as pre-existing.',
    );
  }
}

/** A symbolic link (dotfile managers use them) is followed, so the link stays and its target changes. */
function writablePath(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path;
  }
}

function readText(path: string): string | null {
  return readBuffer(path)?.toString('utf8') ?? null;
}

function readBuffer(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const buffer = (text: string | null) => (text === null ? null : Buffer.from(text));
