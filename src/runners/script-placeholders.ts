/**
 * `${name.path}` placeholders of the scripted agent's scripts (see script-format.ts), resolved
 * against saved results, `vars`, `env` and `agent` when a step runs.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Placeholder roots that scripts cannot use as save names. */
export const RESERVED_NAMES = ['env', 'agent', 'vars'] as const;

const PLACEHOLDER = /\$\$\{|\$\{([^}]*)\}/g;
const REF_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/;

/**
 * What is wrong with the placeholders in the strings of a value, or undefined: a malformed or
 * unterminated placeholder, or one whose root `known` rejects.
 */
export function placeholderProblem(value: unknown, known: (root: string) => boolean): string | undefined {
  if (typeof value === 'string') {
    for (const match of value.matchAll(PLACEHOLDER)) {
      if (match[0] === '$${') continue;
      const ref = match[1]!;
      if (!REF_RE.test(ref)) return `placeholder \${${ref}} must look like \${name.field.0}.`;
      const root = ref.split('.')[0]!;
      if (!known(root) && !(RESERVED_NAMES as readonly string[]).includes(root)) {
        return `placeholder \${${ref}} names "${root}", which no earlier step saves (built-in: ${RESERVED_NAMES.join(', ')}).`;
      }
    }
    if (value.replace(PLACEHOLDER, '').includes('${')) return `unterminated placeholder in ${JSON.stringify(value)}.`;
    return undefined;
  }
  const items = Array.isArray(value) ? value : isObject(value) ? Object.values(value) : [];
  for (const item of items) {
    const problem = placeholderProblem(item, known);
    if (problem) return problem;
  }
  return undefined;
}

/** A placeholder that names nothing at run time. */
export class PlaceholderError extends Error {
  override readonly name = 'PlaceholderError';
}

function lookup(ref: string, scope: Readonly<Record<string, Json | undefined>>): Json {
  const [root, ...parts] = ref.split('.');
  let current: Json | undefined = scope[root!];
  if (current === undefined) throw new PlaceholderError(`\${${ref}}: nothing is saved as "${root}".`);
  const walked = [root!];
  for (const part of parts) {
    let next: Json | undefined;
    if (Array.isArray(current) && /^[0-9]+$/.test(part)) next = current[Number(part)];
    else if (isObject(current) && Object.hasOwn(current, part)) next = current[part];
    if (next === undefined) {
      throw new PlaceholderError(`\${${ref}}: ${walked.join('.')} has no "${part}" (it is ${JSON.stringify(current).slice(0, 200)}).`);
    }
    walked.push(part);
    current = next;
  }
  return current;
}

/** Replaces placeholders in every string of a value; a string that is one placeholder keeps the value's type. */
export function resolvePlaceholders<T extends Json>(value: T, scope: Readonly<Record<string, Json | undefined>>): T;
export function resolvePlaceholders(value: Json, scope: Readonly<Record<string, Json | undefined>>): Json {
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(value);
    if (whole) return lookup(whole[1]!, scope);
    return value.replace(PLACEHOLDER, (match, ref: string | undefined) => {
      if (match === '$${') return '${';
      const found = lookup(ref!, scope);
      return typeof found === 'string' ? found : JSON.stringify(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => resolvePlaceholders(item, scope));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolvePlaceholders(item as Json, scope)]));
  }
  return value;
}

/** The value at a dotted path of a result (for wait_for's until.path), or undefined. */
export function valueAt(value: Json | undefined, path: string): Json | undefined {
  let current = value;
  for (const part of path.split('.')) {
    if (Array.isArray(current) && /^[0-9]+$/.test(part)) current = current[Number(part)];
    else if (isObject(current) && Object.hasOwn(current, part)) current = current[part];
    else return undefined;
  }
  return current;
}

/** Structural equality of JSON values. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}
