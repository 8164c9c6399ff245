import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The FilesPort over node:fs. */
export const nodeFiles = {
  exists: (path: string): boolean => existsSync(path),
  writeAtomic(path: string, text: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, path);
  },
  listDir: (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []),
  removeFile(path: string): boolean {
    if (!existsSync(path) || !statSync(path).isFile()) return false;
    rmSync(path);
    return true;
  },
};
