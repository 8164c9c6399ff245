import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FileChange } from './types.js';

/**
 * Applies a plan: writes each file atomically (a temp file in the same directory, then rename),
 * keeping an existing file's mode; deletes files whose `after` is null; then removes the given
 * directories, deepest first, where they are empty.
 */
export function applyChanges(changes: FileChange[], emptyDirs: string[]): void {
  for (const change of changes) {
    if (change.after === null) unlinkIfPresent(change.path);
    else writeAtomic(change.path, change.after, change.mode);
  }
  for (const dir of emptyDirs) removeIfEmpty(dir);
}

function writeAtomic(path: string, content: Buffer, newMode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  let mode = newMode;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // a new file: the mode given (0o644 for configs, the package's for skill files)
  }
  const temp = join(dirname(path), `.${basename(path)}.codestrator-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeFileSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    unlinkIfPresent(temp);
    throw error;
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
}
