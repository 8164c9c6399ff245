import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import type { Sql } from './ports.js';

/**
 * Where a caller may put a worktree (the contract's `path` of worktree.create / worktree.spawn).
 *
 * We honour the path rather than keep every worktree under the state directory: git supports
 * worktrees anywhere, people ask for sibling directories (`../repo-feature`), and gc already
 * leaves alone a worktree outside its directory (it treats it as the caller's). What we refuse is
 * what would hurt: a non-empty directory, a place inside another checkout (the main one included:
 * its files would show up as untracked there) or inside .git or the state directory, and a
 * symlink that leads into one of those. Every check runs on the real path (symlinks resolved),
 * and the real path is what gets recorded, so git and the ledger name the same directory.
 */

const within = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** Resolves and vets a caller's worktree path; returns the real absolute path to create the worktree at. */
export function checkWorktreePath(ctx: CoreContext, sql: Sql, requested: string, field = 'path', ownId?: number): string {
  const { files, workspace } = ctx;
  const refuse = (why: string, hint = 'Pass an empty or new directory outside any checkout, or omit path.') =>
    invalid(`path ${JSON.stringify(requested)} ${why}.`, field, hint);
  if (requested.trim() === '' || requested.includes('\0')) throw refuse('is empty or has a NUL character');
  // Relative paths are relative to the repository root, whatever directory the server runs in.
  const lexical = resolve(workspace.repoPath, requested);
  const realParent = files.realPath(dirname(lexical));
  if (realParent === null) {
    throw refuse(`needs an existing parent directory (${dirname(lexical)} does not exist)`, 'Create the parent directory first.');
  }
  if (basename(lexical) === '' || lexical === dirname(lexical)) throw refuse('names a filesystem root');
  const real = join(realParent, basename(lexical));
  const where = real === lexical ? '' : ` (through a symlink it is ${real})`;
  const existing = files.realPath(lexical);
  if (existing !== null) {
    if (existing !== real) throw refuse(`is a symlink to ${existing}`);
    let entries: string[];
    try {
      entries = files.listDir(real);
    } catch {
      throw refuse('exists and is not a directory');
    }
    if (entries.length > 0) throw refuse(`exists and is not empty${where}`);
  }
  const realOf = (path: string) => files.realPath(path) ?? path;
  const mainRoot = realOf(workspace.repoPath);
  const worktreesDir = realOf(workspace.worktreesDir);
  if (within(join(mainRoot, '.git'), real)) throw refuse(`is inside .git${where}`);
  for (const row of sql.all<{ id: number; path: string }>("SELECT id, path FROM worktrees WHERE status != 'removed' ORDER BY id")) {
    if (row.id === ownId) continue;
    const other = realOf(row.path);
    if (within(other, real)) throw refuse(`is inside worktree ${row.id}'s checkout ${row.path}${where}`);
    if (within(real, other)) throw refuse(`would contain worktree ${row.id}'s checkout ${row.path}${where}`);
  }
  // Under the worktrees directory is codestrator's own place; elsewhere in the main checkout or the state directory is not.
  if (within(worktreesDir, real) && real !== worktreesDir) return real;
  if (within(realOf(workspace.stateDir), real)) throw refuse(`is inside the state directory ${workspace.stateDir}${where}`);
  if (within(mainRoot, real) || within(real, mainRoot)) {
    throw refuse(
      `is inside the main checkout ${workspace.repoPath}${where}`,
      `Use a directory outside it (e.g. ../${basename(mainRoot)}-work) or under ${workspace.worktreesDir}, or omit path.`,
    );
  }
  return real;
}
