import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CONFIG_FILE, DEFAULT_CONFIG, type RepoConfig } from '../core/config.js';
import { CodestratorError } from '../core/errors.js';
import { RUNNER_KINDS } from '../runners/types.js';

const seconds = z
  .number()
  .int()
  .min(1)
  .max(7 * 86_400);

const schema = z.strictObject({
  $schema: z.string().optional(),
  target_branch: z.string().min(1).nullable().optional(),
  gate: z
    .strictObject({
      command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
      timeout_seconds: seconds.optional(),
    })
    .nullable()
    .optional(),
  review_required: z.boolean().optional(),
  lock_ttl_seconds: seconds.optional(),
  heartbeat_timeout_seconds: seconds.optional(),
  merge_lock_ttl_seconds: seconds.optional(),
  review_diff_max_bytes: z.number().int().min(1000).max(50_000_000).optional(),
  idle_delivery_seconds: z.number().int().min(1).max(86_400).optional(),
  max_concurrent_children: z.number().int().min(1).max(64).optional(),
  reviewer: z
    .strictObject({
      runner: z.enum(RUNNER_KINDS),
      command: z.array(z.string()).min(1).optional(),
      script_path: z.string().min(1).optional(),
      model: z.string().min(1).optional(),
    })
    .nullable()
    .optional(),
});

let cache: { path: string; mtimeMs: number; config: RepoConfig } | undefined;
const configPaths = new Map<string, string>();

/**
 * Reads `<stateDir>/config.json` (re-read when it changes). A missing file gives the defaults;
 * an invalid one is an error naming the file and the field, never silently ignored.
 */
export function loadConfig(stateDir: string): RepoConfig {
  // Called on every method call: the path is joined once per state directory.
  let path = configPaths.get(stateDir);
  if (path === undefined) configPaths.set(stateDir, (path = join(stateDir, CONFIG_FILE)));
  // A missing file must not cost a thrown ENOENT error on each call.
  const mtimeMs = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  if (mtimeMs === undefined) return DEFAULT_CONFIG;
  if (cache && cache.path === path && cache.mtimeMs === mtimeMs) return cache.config;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CodestratorError('PRECONDITION_FAILED', `${path} is not valid JSON: ${(err as Error).message}`, { field: CONFIG_FILE });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [...issue.path, ...('keys' in issue ? (issue.keys as string[]) : [])].join('.');
    throw new CodestratorError('PRECONDITION_FAILED', `${path}: ${field || 'config'}: ${issue.message}.`, {
      field: `${CONFIG_FILE}:${field}`,
      hint: 'See docs/CONFIG.md for the fields and their defaults.',
    });
  }
  const { gate, ...rest } = parsed.data;
  const config: RepoConfig = {
    ...DEFAULT_CONFIG,
    ...Object.fromEntries(Object.entries(rest).filter(([key, value]) => key !== '$schema' && value !== undefined)),
    gate: gate ? { command: gate.command, timeout_seconds: gate.timeout_seconds ?? 900 } : null,
  };
  cache = { path, mtimeMs, config };
  return config;
}
