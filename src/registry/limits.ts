import { CodestratorError } from '../core/errors.js';

/**
 * Size and shape limits every call's params meet before its schema is read, whatever the surface
 * (MCP, CLI, dashboard): whole params, nesting, each string, each structured value. Without them
 * a 5 MB input_contract grew the database by 20 MB and came back in every resume, and a deeply
 * nested or NUL-carrying value failed deep inside as INTERNAL.
 */
export const PARAM_LIMITS = {
  /** The params of one call, serialized as JSON. */
  paramsBytes: 1024 * 1024,
  /** Objects and arrays inside objects and arrays, counting the params object as 1. */
  depth: 16,
  /** Any one string (the largest a schema allows is 100,000 characters). */
  stringChars: 128 * 1024,
  /** A structured (object) value such as input_contract or task_spec, serialized. */
  objectBytes: 64 * 1024,
};

/** Fields that may also carry their JSON value as text; the text is held to the same limits as the value. */
const JSON_TEXT_FIELDS = new Set(['input_contract']);

const tooLarge = (method: string, field: string, what: string, limit: string) =>
  new CodestratorError('INVALID_ARGUMENT', `${method}: ${field} ${what}; the limit is ${limit}.`, {
    field,
    hint: 'Keep large content in a file of the repository and pass its path, or split the call.',
    data: { field, limit },
  });

const pathOf = (parent: string, key: string | number) =>
  typeof key === 'number' ? `${parent}[${key}]` : parent === '' ? key : `${parent}.${key}`;

/** Throws INVALID_ARGUMENT naming the first field over a limit, or carrying a NUL byte. */
export function checkParamLimits(method: string, params: unknown): void {
  if (typeof params !== 'object' || params === null) return;
  walk(method, params, '', 1);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const bytes = JSON.stringify(value).length;
      if (bytes > PARAM_LIMITS.objectBytes) throw tooLarge(method, key, `is ${bytes} bytes as JSON`, `${PARAM_LIMITS.objectBytes} bytes`);
    }
    if (JSON_TEXT_FIELDS.has(key) && typeof value === 'string') checkJsonText(method, key, value);
  }
  const bytes = JSON.stringify(params).length;
  if (bytes > PARAM_LIMITS.paramsBytes) throw tooLarge(method, 'params', `are ${bytes} bytes as JSON`, `${PARAM_LIMITS.paramsBytes} bytes`);
}

function walk(method: string, value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    checkString(method, path, value);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth > PARAM_LIMITS.depth) throw tooLarge(method, path, 'is nested too deeply', `${PARAM_LIMITS.depth} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(method, item, pathOf(path, index), depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = pathOf(path, key);
    if (key.includes('\0')) throw nulIn(method, path === '' ? 'params' : path, 'a key');
    walk(method, item, field, depth + 1);
  }
}

function checkString(method: string, field: string, value: string): void {
  if (value.length > PARAM_LIMITS.stringChars) {
    throw tooLarge(method, field, `is ${value.length} characters`, `${PARAM_LIMITS.stringChars} characters`);
  }
  if (value.includes('\0')) throw nulIn(method, field, 'the value');
}

const nulIn = (method: string, field: string, where: string) =>
  new CodestratorError('INVALID_ARGUMENT', `${method}: ${field}: ${where} contains a NUL byte (\\u0000), which no field accepts.`, {
    field,
    hint: 'Remove the NUL character.',
  });

/** input_contract given as JSON text: the text and the value it holds meet the object limits. */
function checkJsonText(method: string, field: string, text: string): void {
  if (text.length > PARAM_LIMITS.objectBytes) {
    throw tooLarge(method, field, `is ${text.length} characters`, `${PARAM_LIMITS.objectBytes} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return; // Not JSON: kept as text, already within the limit.
  }
  walk(method, parsed, field, 2);
}
