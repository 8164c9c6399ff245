/**
 * The JSON script format of the built-in scripted agent (`script-agent.ts`) and its up-front
 * validation (plain checks, so every message names the step); placeholders are resolved by
 * script-placeholders.ts.
 *
 * ```json
 * { "name": "worker-1", "on_interrupt": "continue", "vars": { "case_id": 4 }, "steps": [
 *   { "call": "case.begin", "params": { "case_id": "${vars.case_id}" }, "save": "begin" },
 *   { "write": { "path": "src/a.ts", "content": "export const a = 1;\n" } },
 *   { "append": { "path": "notes.md", "content": "line\n" } },
 *   { "commit": { "message": "add a", "paths": ["src/a.ts"] }, "save": "c1" },
 *   { "sleep": 200 },
 *   { "call": "step.check", "params": { "case_id": "${begin.case.id}", "step_title": "write a", "result": "pass" } },
 *   { "wait_for": { "call": "lock.acquire", "params": {}, "until": "ok", "timeout_ms": 10000, "interval_ms": 200 } },
 *   { "wait_directive": { "contains": "go", "timeout_ms": 5000 }, "save": "d" },
 *   { "report": { "state": "done", "text": "finished" } },
 *   { "print": "text to the pane" },
 *   { "exit": 0 }
 * ] }
 * ```
 *
 * Top level: `steps` (required, 1..10,000), `name` (default: the file's base name),
 * `on_interrupt` (`continue`, the default, or `exit`), `vars` (a JSON object; the environment's
 * CODESTRATOR_SCRIPT_VARS, a JSON object, overrides its keys), `check_inbox` (default true),
 * `comment` (ignored).
 *
 * Steps: `call` a method with `params` (through its group tool); `write` / `append` a file
 * (relative to the agent's directory, never outside it); `commit` (`git add -- <paths>`, or
 * `git add -A` without paths, then `git commit -m`, hooks on; saves `{commit, branch, message}`);
 * `sleep` milliseconds (work: directives wait for its end; Ctrl-C cuts it short); `wait_for`
 * repeats a call every interval_ms until it succeeds (`until: "ok"`, the default), succeeds with
 * `equals` at `path` (`until: {"path", "equals"}`), or fails with `until_error`, else TIMEOUT after
 * timeout_ms (default 10 s); `wait_directive` idles until a directive (inbox message) or a line
 * typed on stdin, containing `contains` if given, arrives (saves `{source, text, message_id?}`);
 * `report` calls thread.report with its object (at least `state` and `text`; skipped with a
 * warning on a server without that method); `print` a line; `exit` with a code.
 *
 * Every step does exactly one thing and may carry `comment`. Modifiers: `save` (call, wait_for,
 * wait_directive, commit, report) stores the result's structuredContent (for an expected error,
 * `{error: {...}}`) under a name; `expect_error` (call, wait_for, wait_directive, commit, report)
 * names the error code the step must end with; a success then fails the script. Codes are MCP
 * error codes (`CONFLICT`, `LOCKED`…) plus the agent's own: `TIMEOUT` (wait_for, wait_directive),
 * `hook` (a commit refused by a git hook), `empty` (nothing to commit), `git` (git failed
 * otherwise). Codes compare case-insensitively.
 *
 * Placeholders: a string may contain `${name.a.b.0}`, looked up in a saved result, in `vars`, in
 * `env` (environment variables, strings) or in `agent` (`name`, `cwd`, `session_id`, `thread_id`,
 * `repo`). A string that is exactly one placeholder takes the value's type (a number stays a
 * number); elsewhere values are spliced in as text (JSON for objects). `$${` is a literal `${`.
 */

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { type Json, type JsonObject, RESERVED_NAMES, isObject, placeholderProblem } from './script-placeholders.js';

export type { Json, JsonObject } from './script-placeholders.js';
export { PlaceholderError, RESERVED_NAMES, jsonEqual, resolvePlaceholders, valueAt } from './script-placeholders.js';

interface StepBase {
  /** 1-based position, as printed (`step 3/9`). */
  index: number;
  comment?: string;
}

export interface CallStep extends StepBase {
  kind: 'call';
  method: string;
  params: JsonObject;
  save?: string;
  expectError?: string;
}

export interface FileStep extends StepBase {
  kind: 'write' | 'append';
  path: string;
  content: string;
}

export interface CommitStep extends StepBase {
  kind: 'commit';
  message: string;
  /** Paths to stage (`git add -- <paths>`); absent: `git add -A`. */
  paths?: string[];
  save?: string;
  expectError?: string;
}

export interface SleepStep extends StepBase {
  kind: 'sleep';
  ms: number;
}

export type WaitUntil = 'ok' | { path: string; equals: Json };

export interface WaitForStep extends StepBase {
  kind: 'wait_for';
  method: string;
  params: JsonObject;
  /** Success, or success whose structuredContent has `equals` at `path`. Absent when until_error is given. */
  until?: WaitUntil;
  /** Stop when the call fails with this code (a success keeps waiting). */
  untilError?: string;
  timeoutMs: number;
  intervalMs: number;
  save?: string;
  expectError?: string;
}

export interface WaitDirectiveStep extends StepBase {
  kind: 'wait_directive';
  /** Only a directive or input line containing this text counts. */
  contains?: string;
  timeoutMs: number;
  save?: string;
  expectError?: string;
}

export interface ReportStep extends StepBase {
  kind: 'report';
  /** thread.report params: at least state and text. */
  params: JsonObject;
  save?: string;
  expectError?: string;
}

export interface PrintStep extends StepBase {
  kind: 'print';
  text: string;
}

export interface ExitStep extends StepBase {
  kind: 'exit';
  code: number;
}

export type Step = CallStep | FileStep | CommitStep | SleepStep | WaitForStep | WaitDirectiveStep | ReportStep | PrintStep | ExitStep;

export interface Script {
  name: string;
  steps: Step[];
  onInterrupt: 'continue' | 'exit';
  vars: JsonObject;
  checkInbox: boolean;
}

/** A script that cannot run; the message names the step and what is wrong. */
export class ScriptError extends Error {
  override readonly name = 'ScriptError';
}

export const MAX_STEPS = 10_000;
export const MAX_WAIT_MS = 600_000;
export const MAX_SLEEP_MS = 3_600_000;
export const DEFAULT_WAIT_MS = 10_000;
export const DEFAULT_INTERVAL_MS = 200;

const ACTIONS = ['call', 'write', 'append', 'commit', 'sleep', 'wait_for', 'wait_directive', 'report', 'print', 'exit'] as const;
type Action = (typeof ACTIONS)[number];

/** The step-level keys each action accepts besides itself and `comment`. */
const MODIFIERS: Record<Action, readonly string[]> = {
  call: ['params', 'save', 'expect_error'],
  write: [],
  append: [],
  commit: ['save', 'expect_error'],
  sleep: [],
  wait_for: ['save', 'expect_error'],
  wait_directive: ['save', 'expect_error'],
  report: ['save', 'expect_error'],
  print: [],
  exit: [],
};

const SCRIPT_KEYS = ['name', 'steps', 'on_interrupt', 'vars', 'check_inbox', 'comment'];
const METHOD_RE = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$/;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CODE_RE = /^[A-Za-z][A-Za-z0-9_]*$/;

const describeType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

/** Parses and checks a whole script; throws ScriptError naming the first bad step. */
export function parseScript(raw: unknown, defaultName = 'script'): Script {
  if (!isObject(raw)) throw new ScriptError(`script: must be a JSON object with "steps", not ${describeType(raw)}.`);
  const unknown = Object.keys(raw).filter((key) => !SCRIPT_KEYS.includes(key));
  if (unknown.length > 0) throw new ScriptError(`script: unknown field ${JSON.stringify(unknown[0])} (fields: ${SCRIPT_KEYS.join(', ')}).`);
  const name = raw.name ?? defaultName;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200)
    throw new ScriptError('script: name must be a non-empty string.');
  if (raw.on_interrupt !== undefined && raw.on_interrupt !== 'continue' && raw.on_interrupt !== 'exit') {
    throw new ScriptError('script: on_interrupt must be "continue" or "exit".');
  }
  if (raw.check_inbox !== undefined && typeof raw.check_inbox !== 'boolean')
    throw new ScriptError('script: check_inbox must be true or false.');
  if (raw.vars !== undefined && !isObject(raw.vars)) throw new ScriptError('script: vars must be a JSON object.');
  if (raw.comment !== undefined && typeof raw.comment !== 'string') throw new ScriptError('script: comment must be a string.');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw new ScriptError('script: steps must be a non-empty array.');
  if (raw.steps.length > MAX_STEPS) throw new ScriptError(`script: at most ${MAX_STEPS} steps.`);
  const saved = new Set<string>();
  const steps = raw.steps.map((step: unknown, i: number) => parseStep(step, i + 1, saved));
  return {
    name,
    steps,
    onInterrupt: raw.on_interrupt === 'exit' ? 'exit' : 'continue',
    vars: (raw.vars ?? {}) as JsonObject,
    checkInbox: raw.check_inbox !== false,
  };
}

/** Checks one step; `saved` holds the names saved by earlier steps (placeholders may use only those). */
function parseStep(raw: unknown, index: number, saved: Set<string>): Step {
  const where = (action?: string) => `step ${index}${action ? ` (${action})` : ''}`;
  if (!isObject(raw)) throw new ScriptError(`${where()}: must be a JSON object, not ${describeType(raw)}.`);
  const actions = ACTIONS.filter((action) => action in raw);
  if (actions.length === 0) throw new ScriptError(`${where()}: does nothing; give one of ${ACTIONS.join(', ')}.`);
  if (actions.length > 1) throw new ScriptError(`${where()}: has both "${actions[0]}" and "${actions[1]}"; a step does exactly one thing.`);
  const action = actions[0]!;
  const at = where(action);
  const fail = (message: string): never => {
    throw new ScriptError(`${at}: ${message}`);
  };
  const allowed = new Set<string>([action, 'comment', ...MODIFIERS[action]]);
  const extra = Object.keys(raw).filter((key) => !allowed.has(key));
  if (extra.length > 0) fail(`unknown field ${JSON.stringify(extra[0])} (this step takes ${[...allowed].join(', ')}).`);
  if (raw.comment !== undefined && typeof raw.comment !== 'string') fail('comment must be a string.');

  const save = raw.save;
  if (save !== undefined) {
    if (typeof save !== 'string' || !NAME_RE.test(save)) fail('save must be a name of letters, digits and _ (not starting with a digit).');
    if ((RESERVED_NAMES as readonly string[]).includes(save as string))
      fail(`save cannot be ${JSON.stringify(save)}: the name is reserved.`);
  }
  const expectError = raw.expect_error;
  if (expectError !== undefined && (typeof expectError !== 'string' || !CODE_RE.test(expectError))) {
    fail('expect_error must be an error code such as "CONFLICT" or "hook".');
  }
  // Placeholders may only name what earlier steps saved (or the built-in roots).
  const known = (root: string) => saved.has(root);
  const problem = placeholderProblem(raw[action], known) ?? placeholderProblem(raw.params, known);
  if (problem) fail(problem);

  const base = { index, ...(raw.comment === undefined ? {} : { comment: raw.comment as string }) };
  const mods = {
    ...(save === undefined ? {} : { save: save as string }),
    ...(expectError === undefined ? {} : { expectError: expectError as string }),
  };
  const step = buildStep(action, raw, base, mods, fail);
  if (save !== undefined) saved.add(save as string);
  return step;
}

type Fail = (message: string) => never;

function buildStep(
  action: Action,
  raw: Record<string, unknown>,
  base: { index: number; comment?: string },
  mods: { save?: string; expectError?: string },
  fail: Fail,
): Step {
  const value = raw[action];
  switch (action) {
    case 'call': {
      const method = checkMethod(value, 'call', fail);
      const params = raw.params ?? {};
      if (!isObject(params)) fail('params must be a JSON object.');
      return { ...base, kind: 'call', method, params: params as JsonObject, ...mods };
    }
    case 'write':
    case 'append': {
      if (!isObject(value)) fail(`${action} must be {"path", "content"}.`);
      const spec = value as Record<string, unknown>;
      onlyKeys(spec, ['path', 'content'], action, fail);
      const path = checkPath(spec.path, `${action}.path`, fail);
      if (typeof spec.content !== 'string') fail(`${action}.content must be a string.`);
      return { ...base, kind: action, path, content: spec.content as string };
    }
    case 'commit': {
      if (!isObject(value)) fail('commit must be {"message", "paths"?}.');
      const spec = value as Record<string, unknown>;
      onlyKeys(spec, ['message', 'paths'], 'commit', fail);
      if (typeof spec.message !== 'string' || spec.message.trim() === '') fail('commit.message must be a non-empty string.');
      let paths: string[] | undefined;
      if (spec.paths !== undefined) {
        if (!Array.isArray(spec.paths) || spec.paths.length === 0)
          fail('commit.paths must be a non-empty array of paths (omit it for git add -A).');
        paths = (spec.paths as unknown[]).map((p, i) => checkPath(p, `commit.paths[${i}]`, fail));
      }
      return { ...base, kind: 'commit', message: spec.message as string, ...(paths ? { paths } : {}), ...mods };
    }
    case 'sleep':
      return { ...base, kind: 'sleep', ms: checkInt(value, 'sleep (milliseconds)', 0, MAX_SLEEP_MS, fail) };
    case 'wait_for': {
      if (!isObject(value)) fail('wait_for must be {"call", "params"?, "until"?, "until_error"?, "timeout_ms"?, "interval_ms"?}.');
      const spec = value as Record<string, unknown>;
      onlyKeys(spec, ['call', 'params', 'until', 'until_error', 'timeout_ms', 'interval_ms'], 'wait_for', fail);
      const method = checkMethod(spec.call, 'wait_for.call', fail);
      const params = spec.params ?? {};
      if (!isObject(params)) fail('wait_for.params must be a JSON object.');
      if (spec.until !== undefined && spec.until_error !== undefined) fail('give until or until_error, not both.');
      let until: WaitUntil | undefined;
      let untilError: string | undefined;
      if (spec.until_error !== undefined) {
        if (typeof spec.until_error !== 'string' || !CODE_RE.test(spec.until_error)) fail('wait_for.until_error must be an error code.');
        untilError = spec.until_error as string;
      } else {
        until = checkUntil(spec.until ?? 'ok', fail);
      }
      const timeoutMs =
        spec.timeout_ms === undefined ? DEFAULT_WAIT_MS : checkInt(spec.timeout_ms, 'wait_for.timeout_ms', 1, MAX_WAIT_MS, fail);
      const intervalMs =
        spec.interval_ms === undefined ? DEFAULT_INTERVAL_MS : checkInt(spec.interval_ms, 'wait_for.interval_ms', 10, MAX_WAIT_MS, fail);
      return {
        ...base,
        kind: 'wait_for',
        method,
        params: params as JsonObject,
        ...(until === undefined ? {} : { until }),
        ...(untilError === undefined ? {} : { untilError }),
        timeoutMs,
        intervalMs,
        ...mods,
      };
    }
    case 'wait_directive': {
      if (!isObject(value)) fail('wait_directive must be {"contains"?, "timeout_ms"?}.');
      const spec = value as Record<string, unknown>;
      onlyKeys(spec, ['contains', 'timeout_ms'], 'wait_directive', fail);
      if (spec.contains !== undefined && (typeof spec.contains !== 'string' || spec.contains === '')) {
        fail('wait_directive.contains must be a non-empty string.');
      }
      const timeoutMs =
        spec.timeout_ms === undefined ? DEFAULT_WAIT_MS : checkInt(spec.timeout_ms, 'wait_directive.timeout_ms', 1, MAX_WAIT_MS, fail);
      return {
        ...base,
        kind: 'wait_directive',
        ...(spec.contains === undefined ? {} : { contains: spec.contains as string }),
        timeoutMs,
        ...mods,
      };
    }
    case 'report': {
      if (!isObject(value)) fail('report must be {"state", "text"}.');
      const spec = value as Record<string, unknown>;
      if (typeof spec.state !== 'string' || spec.state === '')
        fail('report.state must be a non-empty string (e.g. progress, blocked, done).');
      if (typeof spec.text !== 'string') fail('report.text must be a string.');
      return { ...base, kind: 'report', params: spec as JsonObject, ...mods };
    }
    case 'print':
      if (typeof value !== 'string') fail('print must be a string.');
      return { ...base, kind: 'print', text: value as string };
    case 'exit':
      return { ...base, kind: 'exit', code: checkInt(value, 'exit (a code 0..255)', 0, 255, fail) };
  }
}

function onlyKeys(spec: Record<string, unknown>, keys: readonly string[], what: string, fail: Fail): void {
  const extra = Object.keys(spec).filter((key) => !keys.includes(key));
  if (extra.length > 0) fail(`${what} has unknown field ${JSON.stringify(extra[0])} (fields: ${keys.join(', ')}).`);
}

function checkMethod(value: unknown, what: string, fail: Fail): string {
  if (typeof value !== 'string' || !METHOD_RE.test(value)) fail(`${what} must be a method name such as "case.begin".`);
  return value as string;
}

function checkInt(value: unknown, what: string, min: number, max: number, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${what} must be an integer from ${min} to ${max}.`);
  }
  return value as number;
}

function checkUntil(value: unknown, fail: Fail): WaitUntil {
  if (value === 'ok') return 'ok';
  if (isObject(value) && typeof value.path === 'string' && value.path !== '' && 'equals' in value && Object.keys(value).length === 2) {
    return { path: value.path, equals: value.equals as Json };
  }
  return fail('wait_for.until must be "ok" or {"path": "a.b", "equals": <json>}.');
}

/** A path relative to the agent's directory that cannot leave it (placeholders are checked again when resolved). */
function checkPath(value: unknown, what: string, fail: Fail): string {
  if (typeof value !== 'string' || value === '') return fail(`${what} must be a non-empty relative path.`);
  const problem = pathProblem(value);
  if (problem && !value.includes('${')) fail(`${what} ${JSON.stringify(value)} ${problem}.`);
  return value;
}

/** Why a relative path is refused, or undefined when it stays inside its directory. */
export function pathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith('\\'))
    return 'is absolute; paths are relative to the worktree';
  let depth = 0;
  for (const part of path.split(/[\\/]+/)) {
    if (part === '..') depth -= 1;
    else if (part !== '.' && part !== '') depth += 1;
    if (depth < 0) return 'leaves the worktree';
  }
  if (depth === 0) return 'names the worktree itself, not a file';
  return undefined;
}

/** Reads, parses and checks a script file; extraVars (CODESTRATOR_SCRIPT_VARS, a JSON object) overrides its vars. */
export async function loadScript(file: string, extraVars?: string): Promise<Script> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ScriptError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ScriptError(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const script = parseScript(raw, basename(file, extname(file)));
  if (extraVars) {
    let vars: unknown;
    try {
      vars = JSON.parse(extraVars);
    } catch {
      vars = undefined;
    }
    if (typeof vars !== 'object' || vars === null || Array.isArray(vars))
      throw new ScriptError('CODESTRATOR_SCRIPT_VARS must be a JSON object.');
    script.vars = { ...script.vars, ...(vars as JsonObject) };
  }
  return script;
}
