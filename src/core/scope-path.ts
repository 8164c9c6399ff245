import { isAbsolute, posix, relative, sep } from 'node:path';
import { invalid } from './errors.js';

/** The whole repository, as a prefix scope. */
export const REPO_ROOT_SCOPE = '.';

/**
 * Normalises a lock/scope path to a repo-relative POSIX path. An absolute path inside one of
 * the repository's worktrees is taken relative to that worktree (the same file in every
 * worktree is the same lock); paths that escape the repository are refused.
 */
export function normalizeScopePath(
  input: string,
  options: { repoPath: string; worktreePaths: () => readonly string[]; field: string; allowRoot: boolean },
): string {
  const raw = input.trim();
  if (raw.includes('\0')) throw invalid('The path contains a NUL byte.', options.field);
  let rel = raw;
  if (isAbsolute(raw)) {
    const roots = [...options.worktreePaths(), options.repoPath].sort((a, b) => b.length - a.length);
    const root = roots.find((candidate) => raw === candidate || raw.startsWith(candidate + sep));
    if (!root) {
      throw invalid(
        `${input} is outside the repository ${options.repoPath}.`,
        options.field,
        'Pass a path relative to the repository root.',
      );
    }
    rel = relative(root, raw).split(sep).join('/');
  }
  const normalized = posix.normalize(rel.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) {
    throw invalid(`${input} escapes the repository root.`, options.field, 'Pass a path inside the repository.');
  }
  const result = normalized === '' || normalized === '.' ? REPO_ROOT_SCOPE : normalized.replace(/^\.\//, '');
  if (result === REPO_ROOT_SCOPE && !options.allowRoot) {
    throw invalid('A file scope needs a file path, not the repository root.', options.field, "Use scope_type 'prefix' to lock everything.");
  }
  return result;
}

/** p is q, or lies under q, or q is the whole repository. */
export const isUnder = (p: string, q: string): boolean => q === REPO_ROOT_SCOPE || p === q || p.startsWith(q + '/');

export interface Scope {
  scope_type: 'file' | 'prefix';
  scope_path: string;
}

/** The contract's conflict rule: files clash when equal; a prefix clashes with anything under it. */
export function scopesConflict(a: Scope, b: Scope): boolean {
  if (a.scope_type === 'file' && b.scope_type === 'file') return a.scope_path === b.scope_path;
  if (a.scope_type === 'file') return isUnder(a.scope_path, b.scope_path);
  if (b.scope_type === 'file') return isUnder(b.scope_path, a.scope_path);
  return isUnder(a.scope_path, b.scope_path) || isUnder(b.scope_path, a.scope_path);
}
