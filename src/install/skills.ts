import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { type FileChange, InstallError } from './types.js';

/**
 * Marks a skill directory as written by codestrator install and lists the files it wrote there, so
 * reinstall may replace them and uninstall removes exactly them. A directory without it is the
 * user's and is never touched.
 */
export const SKILL_MARKER = '.codestrator-install.json';

/** One skill of the package: `skills/<name>/` and its files (paths relative to that directory). */
export interface Skill {
  name: string;
  files: { path: string; content: Buffer; mode: number }[];
}

/** Every directory under `<package>/skills/`, with its regular files, in a stable order. */
export function packageSkills(skillsRoot: string): Skill[] {
  if (!existsSync(skillsRoot)) return [];
  return readdirSync(skillsRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const dir = join(skillsRoot, name);
      return {
        name,
        files: filesUnder(dir).map((file) => ({
          path: relative(dir, file).split(sep).join('/'),
          content: readFileSync(file),
          mode: lstatSync(file).mode & 0o777,
        })),
      };
    });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return filesUnder(path);
      return entry.isFile() ? [path] : [];
    });
}

/** What a skills plan does: file changes and the directories to remove once empty. */
interface SkillsPlan {
  changes: FileChange[];
  /** Directories inside installed skills, deepest first, removed if empty after the changes. */
  emptyDirs: string[];
}

/**
 * Installs the package's skills into skillsDir: writes changed files and each skill's marker,
 * deletes files an earlier install wrote that the package no longer has, and uninstalls skills
 * an earlier install wrote that the package no longer has. Refuses an unmarked directory.
 */
export function planSkillsInstall(skillsDir: string, skills: Skill[], shown: (path: string) => string): SkillsPlan {
  const changes: FileChange[] = [];
  const emptyDirs: string[] = [];
  const names = new Set(skills.map((skill) => skill.name));
  for (const skill of skills) {
    const dir = join(skillsDir, skill.name);
    const previous = existsSync(dir) ? installedFiles(dir, shown) : [];
    for (const file of skill.files) changes.push(write(join(dir, file.path), file.content, file.mode));
    const now = new Set(skill.files.map((file) => file.path));
    for (const old of previous.filter((path) => !now.has(path))) changes.push(...remove(join(dir, old)));
    emptyDirs.push(...innerDirs(dir, previous));
    const marker = `${JSON.stringify({ installed_by: 'codestrator install', files: [...now].sort() }, null, 2)}\n`;
    changes.push(write(join(dir, SKILL_MARKER), Buffer.from(marker), 0o644));
  }
  for (const name of installedSkillNames(skillsDir).filter((name) => !names.has(name))) {
    const plan = planSkillUninstall(join(skillsDir, name), shown);
    changes.push(...plan.changes);
    emptyDirs.push(...plan.emptyDirs);
  }
  return { changes: changes.filter((change) => !sameBytes(change.before, change.after)), emptyDirs: deepestFirst(emptyDirs) };
}

/** Removes every skill under skillsDir that codestrator install wrote (marked ones only). */
export function planSkillsUninstall(skillsDir: string, shown: (path: string) => string): SkillsPlan {
  const plans = installedSkillNames(skillsDir).map((name) => planSkillUninstall(join(skillsDir, name), shown));
  return { changes: plans.flatMap((plan) => plan.changes), emptyDirs: deepestFirst(plans.flatMap((plan) => plan.emptyDirs)) };
}

function planSkillUninstall(dir: string, shown: (path: string) => string): SkillsPlan {
  const files = installedFiles(dir, shown);
  return {
    changes: [...files, SKILL_MARKER].flatMap((path) => remove(join(dir, path))),
    emptyDirs: [...innerDirs(dir, files), dir],
  };
}

/** Names of skill directories under skillsDir that carry the marker. */
function installedSkillNames(skillsDir: string): string[] {
  if (!existsSync(skillsDir)) return [];
  return readdirSync(skillsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(skillsDir, entry.name, SKILL_MARKER)))
    .map((entry) => entry.name)
    .sort();
}

/** The files an earlier install wrote in dir (from its marker); refuses a directory without one. */
function installedFiles(dir: string, shown: (path: string) => string): string[] {
  const marker = join(dir, SKILL_MARKER);
  if (!existsSync(marker)) {
    throw new InstallError(
      `${shown(dir)}/ exists and was not installed by codestrator install (it has no ${SKILL_MARKER}).`,
      `Move or delete that directory if it is an old copy of codestrator's skill, then run again; the installer never overwrites a skill it did not write.`,
    );
  }
  try {
    const files = (JSON.parse(readFileSync(marker, 'utf8')) as { files?: unknown }).files;
    if (!Array.isArray(files)) throw new Error('no files list');
    // Only plain relative paths inside the skill: a hand-edited marker must not reach outside it.
    return files.map(String).filter((path) => path !== '' && !path.startsWith('/') && !path.split('/').includes('..'));
  } catch (error) {
    throw new InstallError(
      `${shown(marker)} is not a valid codestrator marker (${(error as Error).message}).`,
      'Delete that skill directory and run again.',
    );
  }
}

/** The directories between dir and each file, deepest first. */
function innerDirs(dir: string, files: string[]): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    for (let parent = dirname(join(dir, file)); parent.startsWith(dir + sep); parent = dirname(parent)) dirs.add(parent);
  }
  return [...dirs];
}

function write(path: string, content: Buffer, mode: number): FileChange {
  return { path, before: readIfFile(path), after: content, mode, kind: 'skill' };
}

function remove(path: string): FileChange[] {
  const before = readIfFile(path);
  return before === null ? [] : [{ path, before, after: null, kind: 'skill' }];
}

function readIfFile(path: string): Buffer | null {
  try {
    return lstatSync(path).isFile() ? readFileSync(path) : null;
  } catch {
    return null;
  }
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a !== null && b !== null && a.equals(b);
}

/** Deepest first, so a parent is tried after its children. */
export function deepestFirst(dirs: Iterable<string>): string[] {
  return [...new Set(dirs)].sort((a, b) => b.split(sep).length - a.split(sep).length || (a < b ? 1 : -1));
}
