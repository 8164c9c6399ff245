/** The clients `codestrator install` can wire codestrator into. */
export const TARGETS = ['codex', 'claude', 'gemini'] as const;

/** One of TARGETS. */
export type TargetName = (typeof TARGETS)[number];

/** Whether a name is a known target (the CLI checks before anything else runs). */
export const isTarget = (name: string): name is TargetName => (TARGETS as readonly string[]).includes(name);

/** How `install` / `uninstall` were asked to run. */
export interface InstallOptions {
  target: TargetName;
  /** The user's configuration instead of the git repository containing cwd. */
  global: boolean;
  /** Print what would change; write nothing. */
  dryRun: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** One file the installer writes (after ≠ null) or deletes (after = null). */
export interface FileChange {
  path: string;
  before: Buffer | null;
  after: Buffer | null;
  /** The mode a new file gets; an existing file keeps its own. */
  mode?: number;
  kind: 'config' | 'skill' | 'manifest';
}

/**
 * A refusal or a bad input, said so the user knows what to do next. The CLI prints it on stderr
 * with exit code 1; nothing has been written when it is thrown (every check runs before any write).
 */
export class InstallError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'InstallError';
  }
}

/** A syntax error in a JSON or TOML file, with its 1-based position. */
export class SyntaxErrorAt extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'SyntaxErrorAt';
  }
}

/** 1-based line and column of an offset in text. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
