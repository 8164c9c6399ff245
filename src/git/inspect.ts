import { runGit } from './run-git.js';

/** Read-only questions about branches and checkouts. None of them changes anything. */

/** Paths with any change (staged, unstaged, untracked, conflicted) in a checkout; empty when clean. */
export async function dirtyPaths(worktreePath: string, options: { untracked?: boolean } = {}): Promise<string[]> {
  const untracked = options.untracked === false ? 'no' : 'all';
  const result = await runGit(worktreePath, ['status', '--porcelain=v1', '-z', `--untracked-files=${untracked}`]);
  const paths: string[] = [];
  const entries = result.stdout.split('\0');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.length < 4) continue;
    paths.push(entry.slice(3));
    // Renames and copies carry the old path as the next entry.
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return paths;
}

/** Paths changed on `head` since it forked from `base` (three-dot diff). */
export async function changedFiles(root: string, base: string, head: string): Promise<string[]> {
  const result = await runGit(root, ['diff', '--name-only', '-z', '--no-renames', `${base}...${head}`, '--']);
  return result.stdout.split('\0').filter(Boolean);
}

export async function aheadBehind(root: string, base: string, head: string): Promise<{ ahead: number; behind: number }> {
  const result = await runGit(root, ['rev-list', '--left-right', '--count', `${base}...${head}`, '--']);
  const [behind = 0, ahead = 0] = result.stdout.trim().split(/\s+/).map(Number);
  return { ahead, behind };
}

export async function isAncestor(root: string, ancestor: string, descendant: string): Promise<boolean> {
  const result = await runGit(root, ['merge-base', '--is-ancestor', ancestor, descendant], { allowFailure: true });
  if (result.exitCode > 1) throw new Error(`git merge-base failed: ${result.stderr.trim()}`);
  return result.exitCode === 0;
}

/** True when every commit of `head` missing from `base` has an identical patch in `base` (`git cherry`). */
export async function patchesApplied(root: string, base: string, head: string): Promise<boolean> {
  const result = await runGit(root, ['cherry', base, head]);
  return result.stdout.split('\n').every((line) => line === '' || line.startsWith('-'));
}

/** branch name → path of the worktree that has it checked out. */
export async function checkedOutBranches(root: string): Promise<Map<string, string>> {
  const result = await runGit(root, ['worktree', 'list', '--porcelain', '-z']);
  const map = new Map<string, string>();
  let path: string | undefined;
  for (const field of result.stdout.split('\0')) {
    if (field.startsWith('worktree ')) path = field.slice('worktree '.length);
    else if (field.startsWith('branch refs/heads/') && path) map.set(field.slice('branch refs/heads/'.length), path);
  }
  return map;
}

export interface DiffResult {
  stat: string;
  patch: string;
  bytes: number;
  truncated: boolean;
}

/** The diff of `head` against its fork point from `base`, with the patch capped at `maxBytes`. */
export async function diff(root: string, base: string, head: string, maxBytes: number): Promise<DiffResult> {
  const range = `${base}...${head}`;
  const stat = (await runGit(root, ['diff', '--stat=120', range, '--'])).stdout;
  const patch = (await runGit(root, ['diff', '--no-color', range, '--'])).stdout;
  const bytes = Buffer.byteLength(patch);
  if (bytes <= maxBytes) return { stat, patch, bytes, truncated: false };
  // Cut at a character boundary: step back over UTF-8 continuation bytes (10xxxxxx).
  const buffer = Buffer.from(patch);
  let end = maxBytes;
  while (end > 0 && (buffer[end]! & 0xc0) === 0x80) end--;
  return { stat, patch: buffer.subarray(0, end).toString('utf8'), bytes, truncated: true };
}

export interface CommitInfo {
  sha: string;
  author: string;
  date: number;
  subject: string;
}

/** Commits on `head` that `base` does not have, newest first (at most `limit`). */
export async function commitsBetween(root: string, base: string, head: string, limit = 200): Promise<CommitInfo[]> {
  const result = await runGit(root, ['log', `--max-count=${limit}`, '--format=%H%x1f%an%x1f%at%x1f%s%x1e', `${base}..${head}`, '--']);
  return result.stdout
    .split('\x1e')
    .map((record) => record.trim())
    .filter(Boolean)
    .map((record) => {
      const [sha = '', author = '', date = '0', subject = ''] = record.split('\x1f');
      return { sha, author, date: Number(date) * 1000, subject };
    });
}
