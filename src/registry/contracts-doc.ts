import { GROUPS, type MethodDef, type Registry } from './define.js';
import { paramsJsonSchema } from './describe.js';

/**
 * The method reference generated from the registry: every method grouped by its MCP tool, with its
 * summary, whether it mutates, where its caller comes from, a params table and the example call.
 * Pure and deterministic (registry order, no dates), so a test can compare the committed files.
 */

type JsonSchema = Record<string, unknown>;

/** The skills shipped in skills/<name>/; each carries references/method-contracts.md. */
export const SKILL_NAMES = ['codestrator', 'codestrator-worker', 'codestrator-reviewer'] as const;

/** One generated file: its path relative to the package root and its full content. */
export interface GeneratedDoc {
  path: string;
  content: string;
}

const IDENTITY_TEXT: Record<NonNullable<MethodDef['identity']>, string> = {
  params: "`session_id`/`thread_id` in the params, else the server's own identity",
  env: "the server's own identity; a `session_id`/`thread_id` in the params names the target, not the caller",
  none: 'not needed',
};

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const asSchema = (value: unknown): JsonSchema => (typeof value === 'object' && value !== null ? (value as JsonSchema) : {});
const schemas = (value: unknown): JsonSchema[] => (Array.isArray(value) ? value.map(asSchema) : []);

/** Table cells are one line, and a pipe would end the cell. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

/** Integer and number bounds as `1–64`, `≥ 1` or `≤ 300`; an integer's exclusive minimum becomes inclusive. */
function numberBounds(s: JsonSchema): string {
  const integer = s.type === 'integer';
  let min = typeof s.minimum === 'number' && s.minimum > -MAX_SAFE ? s.minimum : undefined;
  if (min === undefined && typeof s.exclusiveMinimum === 'number') min = integer ? s.exclusiveMinimum + 1 : undefined;
  const max = typeof s.maximum === 'number' && s.maximum < MAX_SAFE ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) return ` (${min}–${max})`;
  if (min !== undefined) return ` (≥ ${min})`;
  if (max !== undefined) return ` (≤ ${max})`;
  return '';
}

/** A compact type: `string`, `"a" | "b"`, `integer[]`, `(string | integer)[]`, `integer | null`, `object`. */
function typeName(s: JsonSchema, options: { bounds: boolean }): string {
  const union = schemas(s.anyOf ?? s.oneOf);
  if (union.length > 0) return union.map((member) => typeName(member, { bounds: false })).join(' | ');
  if (Array.isArray(s.enum)) return s.enum.map((value) => JSON.stringify(value)).join(' | ');
  if ('const' in s) return JSON.stringify(s.const);
  if (s.type === 'array') {
    const item = typeName(asSchema(s.items), { bounds: false });
    const min = typeof s.minItems === 'number' ? s.minItems : undefined;
    const max = typeof s.maxItems === 'number' ? s.maxItems : undefined;
    const count = options.bounds && min !== undefined ? (max !== undefined ? ` (${min}–${max} items)` : ` (≥ ${min} items)`) : '';
    return `${/[ |]/.test(item) ? `(${item})` : item}[]${count}`;
  }
  if (s.type === 'integer' || s.type === 'number') return `${s.type}${options.bounds ? numberBounds(s) : ''}`;
  if (typeof s.type === 'string') return s.type;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return 'any';
}

/** The description of a param, else of its non-null union member, else of its items. */
function descriptionOf(s: JsonSchema): string {
  if (typeof s.description === 'string') return s.description;
  const member = schemas(s.anyOf).find((m) => m.type !== 'null' && typeof m.description === 'string');
  if (member) return member.description as string;
  const items = asSchema(s.items);
  return typeof items.description === 'string' ? items.description : '';
}

interface ParamRow {
  name: string;
  type: string;
  required: boolean;
  description: string;
  default?: unknown;
}

/** Rows for an object's properties, then (dotted, `[]` for arrays) for the fields of nested objects. */
function paramRows(object: JsonSchema, prefix = ''): ParamRow[] {
  const properties = asSchema(object.properties);
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  return Object.entries(properties).flatMap(([key, value]) => {
    const s = asSchema(value);
    const name = `${prefix}${key}`;
    const row: ParamRow = { name, type: typeName(s, { bounds: true }), required: required.has(key), description: descriptionOf(s) };
    if ('default' in s) row.default = s.default;
    const items = asSchema(s.items);
    const nested = s.properties ? paramRows(s, `${name}.`) : items.properties ? paramRows(items, `${name}[].`) : [];
    return [row, ...nested];
  });
}

function paramsTable(def: MethodDef): string[] {
  const rows = paramRows(paramsJsonSchema(def));
  if (rows.length === 0) return ['No params.'];
  const withDefault = rows.some((row) => 'default' in row);
  const header = ['param', 'type', 'required', 'description', ...(withDefault ? ['default'] : [])];
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => {
      const cells = [`\`${row.name}\``, `\`${row.type}\``, row.required ? 'yes' : 'no', row.description];
      if (withDefault) cells.push('default' in row ? `\`${JSON.stringify(row.default)}\`` : '');
      return `| ${cells.map(cell).join(' | ')} |`;
    }),
  ];
}

/** One example call in the form the skills use: `<tool> <method> <params JSON>`. */
export function exampleCall(def: MethodDef): string {
  return `${def.group} ${def.name} ${JSON.stringify(def.example)}`;
}

function methodSection(def: MethodDef): string[] {
  return [
    `### \`${def.name}\``,
    '',
    def.summary,
    '',
    `Tool \`${def.group}\` · mutates: ${def.mutates ? 'yes' : 'no'} · caller: ${IDENTITY_TEXT[def.identity ?? 'params']}.`,
    '',
    ...paramsTable(def),
    '',
    '```text',
    exampleCall(def),
    '```',
    '',
  ];
}

/** The Markdown reference of every method in the registry, under the given title and intro lines. */
export function renderContractsDoc(registry: Registry, options: { title: string; intro: readonly string[] }): string {
  const groups = GROUPS.map((group) => ({ group, defs: registry.byGroup(group) })).filter((entry) => entry.defs.length > 0);
  const lines = [
    `# ${options.title}`,
    '',
    ...options.intro,
    '',
    `${registry.methods.size} methods in ${groups.length} tools. Each tool takes \`{"method": "<name>", "params": {...}}\`; the legacy`,
    '`orchestrator.call` tool takes any method. Params are validated strictly: an unknown field, a wrong type or a',
    'missing required field is refused with `{"error": {"code", "message", "field", "hint"}}` before anything runs.',
    'Examples are written `<tool> <method> <params>`.',
    '',
    '| tool | methods |',
    '| --- | --- |',
    ...groups.map(({ group, defs }) => `| \`${group}\` | ${defs.map((def) => `\`${def.name}\``).join(', ')} |`),
    '',
  ];
  for (const { group, defs } of groups) {
    lines.push(`## ${group}`, '');
    for (const def of defs) lines.push(...methodSection(def));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

const GENERATED_NOTE = 'Generated from the method registry by `npm run docs`; do not edit by hand (a test fails when it is out of date).';

/** Every generated file: the skills' references/method-contracts.md and docs/METHODS.md. */
export function generatedDocs(registry: Registry): GeneratedDoc[] {
  const reference = renderContractsDoc(registry, {
    title: 'codestrator method contracts',
    intro: [
      GENERATED_NOTE,
      'Read it when you need a payload shape; live, the same comes from `orch_system system.describe {"method": "<name>"}`.',
    ],
  });
  return [
    ...SKILL_NAMES.map((name) => ({ path: `skills/${name}/references/method-contracts.md`, content: reference })),
    {
      path: 'docs/METHODS.md',
      content: renderContractsDoc(registry, {
        title: 'Method reference',
        intro: [
          GENERATED_NOTE,
          'How the registry, the dispatcher and caller identity work: [ARCHITECTURE.md](ARCHITECTURE.md).',
          'The agent workflow built on these methods: the skills in `skills/`.',
        ],
      }),
    },
  ];
}
