import { existsSync, lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runGit } from './run-git.js';

/** How a checkout left behind by an interrupted update (its branch moved from `from` to `to`) was brought along. */
export type CheckoutRepair =
  | { state: 'matches' }
  | { state: 'advanced' }
  | { state: 'restored'; paths: string[] }
  | { state: 'blocked'; why: string; paths: string[] };

const ZERO = /^0+$/;
/** git writes the index last, through index.lock; a git child of a killed process may still be finishing. */
const INDEX_LOCK_WAIT_MS = 3_000;

const quiet = async (cwd: string, args: string[]) => (await runGit(cwd, args, { allowFailure: true })).exitCode === 0;
const zList = (text: string) => text.split('\0').filter(Boolean);

async function gitDir(worktreePath: string): Promise<string> {
  return (await runGit(worktreePath, ['rev-parse', '--path-format=absolute', '--git-dir'])).stdout.trim();
}

async function waitForIndexLock(worktreePath: string): Promise<boolean> {
  const lock = join(await gitDir(worktreePath), 'index.lock');
  for (const deadline = Date.now() + INDEX_LOCK_WAIT_MS; existsSync(lock); ) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 50));
  }
  return true;
}

/** Index and files of tracked paths equal `to`'s tree (stat info refreshed first). */
async function matches(worktreePath: string, to: string): Promise<boolean> {
  await runGit(worktreePath, ['update-index', '-q', '--refresh'], { allowFailure: true });
  return (
    (await quiet(worktreePath, ['diff-index', '--cached', '--quiet', to, '--'])) && (await quiet(worktreePath, ['diff-files', '--quiet']))
  );
}

/** path → [blob in from, blob in to] for every path the update changes (zeros where absent). */
async function changedBlobs(worktreePath: string, from: string, to: string): Promise<Map<string, [string, string]>> {
  const raw = zList((await runGit(worktreePath, ['diff-tree', '-r', '-z', '--no-renames', from, to])).stdout);
  const blobs = new Map<string, [string, string]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const [, , oldSha = '', newSha = ''] = raw[i]!.split(' ');
    blobs.set(raw[i + 1]!, [oldSha, newSha]);
  }
  return blobs;
}

/** The blob each existing file would be stored as; absent files are left out. */
async function fileBlobs(worktreePath: string, paths: string[]): Promise<Map<string, string>> {
  const present = paths.filter((path) => {
    try {
      return lstatSync(join(worktreePath, path)).isFile();
    } catch {
      return false;
    }
  });
  const blobs = new Map<string, string>();
  for (let start = 0; start < present.length; start += 500) {
    const batch = present.slice(start, start + 500);
    const shas = (await runGit(worktreePath, ['hash-object', '--no-filters', '--', ...batch])).stdout.split('\n');
    batch.forEach((path, i) => blobs.set(path, shas[i]!.trim()));
  }
  return blobs;
}

/**
 * Finishes the update of a checkout whose branch was moved from `from` to `to` by a process that
 * died before (or while) bringing the checkout along. Untouched (index still at `from`): the same
 * two-tree read-tree the update would have run. Half written (a killed git): every differing path
 * must hold `from`'s or `to`'s version of a path the update changes, and is then reset to `to`;
 * anything else (someone edited the checkout since) is left as it is and reported as blocked.
 */
export async function finishCheckout(worktreePath: string, from: string, to: string): Promise<CheckoutRepair> {
  if (!(await waitForIndexLock(worktreePath))) return { state: 'blocked', why: 'its index.lock stays in place', paths: [] };
  if (await matches(worktreePath, to)) return { state: 'matches' };
  if (await quiet(worktreePath, ['diff-index', '--cached', '--quiet', from, '--'])) {
    if (await quiet(worktreePath, ['read-tree', '-m', '-u', from, to])) return { state: 'advanced' };
  }
  const changed = await changedBlobs(worktreePath, from, to);
  const dirty = [
    ...new Set([
      ...zList((await runGit(worktreePath, ['diff', '--name-only', '-z', '--no-renames', to, '--'])).stdout),
      ...zList((await runGit(worktreePath, ['diff', '--cached', '--name-only', '-z', '--no-renames', to, '--'])).stdout),
    ]),
  ].sort();
  const onDisk = await fileBlobs(worktreePath, dirty);
  const foreign = dirty.filter((path) => {
    const blobs = changed.get(path);
    if (!blobs) return true;
    const disk = onDisk.get(path);
    return disk === undefined ? !blobs.some((sha) => ZERO.test(sha)) : !blobs.includes(disk);
  });
  if (foreign.length > 0) return { state: 'blocked', why: 'it has changes the update did not make', paths: foreign };
  await runGit(worktreePath, ['read-tree', '--reset', '-u', to]);
  // Paths the update deletes that git had already dropped from the index stay on disk, untracked.
  const leftovers = [...changed].filter(([, [, next]]) => ZERO.test(next)).map(([path]) => path);
  const stale = await fileBlobs(worktreePath, leftovers);
  for (const [path, blob] of stale) if (changed.get(path)![0] === blob) rmSync(join(worktreePath, path));
  if (!(await matches(worktreePath, to)))
    return { state: 'blocked', why: 'it still differs from its branch after the reset', paths: dirty };
  return { state: 'restored', paths: dirty };
}
