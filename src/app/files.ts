import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The FilesPort over node:fs. */
export const nodeFiles = {
  exists: (path: string): boolean => existsSync(path),
  readText: (path: string): string | null => (existsSync(path) ? readFileSync(path, 'utf8') : null),
  writeAtomic(path: string, text: string, mode?: number): void {
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, text, mode === undefined ? {} : { mode });
    renameSync(temp, path);
  },
  listDir: (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []),
  removeFile(path: string): boolean {
    if (!existsSync(path) || !statSync(path).isFile()) return false;
    rmSync(path);
    return true;
  },
  realPath(path: string): string | null {
    try {
      return realpathSync(path);
    } catch {
      return null;
    }
  },
};
