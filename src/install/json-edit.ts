import type { JsonMember, JsonNode, JsonObject } from './json-tree.js';

/** How a JSON file is laid out, so an added member looks like its neighbours. */
interface JsonStyle {
  /** One level of indentation (two spaces, four, a tab). */
  unit: string;
  eol: string;
}

/** The file's indentation unit (from the root's first member on its own line) and line ending. */
export function jsonStyle(text: string, root: JsonNode): JsonStyle {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const first = root.type === 'object' ? root.members[0] : undefined;
  const indent = first && ownLine(text, first.keyStart) ? lineIndent(text, first.keyStart) : '';
  return { unit: indent || '  ', eol };
}

/**
 * The bytes an added member brought with it, around its `"key": value`: removing exactly them
 * (removeMember) gives back the original file, whatever comments or spacing the object held.
 */
export interface Insertion {
  before: string;
  after: string;
}

/** The text with an existing member's value replaced in place. */
export function replaceValue(text: string, member: JsonMember, value: unknown, style: JsonStyle): string {
  const multiline = ownLine(text, member.keyStart);
  return splice(text, member.value.start, member.value.end, render(value, multiline ? lineIndent(text, member.keyStart) : null, style));
}

/**
 * The text with a new member `key: value` added to object, every existing byte kept: after the
 * last member with its separator and indentation; in an empty object on a line of its own just
 * before the closing brace (keeping comments and blank lines inside).
 */
export function addMember(
  text: string,
  object: JsonObject,
  key: string,
  value: unknown,
  style: JsonStyle,
): { text: string; insertion: Insertion } {
  const last = object.members.at(-1);
  if (!last) {
    const close = object.end - 1;
    const outer = lineIndent(text, object.start);
    const indent = outer + style.unit;
    const member = `${JSON.stringify(key)}: ${render(value, indent, style)}`;
    const insertion = ownLine(text, close)
      ? { before: indent, after: style.eol }
      : { before: style.eol + indent, after: style.eol + outer };
    const at = ownLine(text, close) ? text.lastIndexOf('\n', close - 1) + 1 : close;
    return { text: splice(text, at, at, insertion.before + member + insertion.after), insertion };
  }
  let gapStart = last.keyStart;
  while (gapStart > 0 && /[ \t\r\n]/.test(text[gapStart - 1]!)) gapStart--;
  const gap = text.slice(gapStart, last.keyStart);
  const multiline = gap.includes('\n');
  const indent = multiline ? gap.slice(gap.lastIndexOf('\n') + 1) : null;
  const member = `${JSON.stringify(key)}${colonOf(text, last.keyStart, last.value.start)}${render(value, indent, style)}`;
  const insertion = { before: `,${gap}`, after: '' };
  return { text: splice(text, last.value.end, last.value.end, insertion.before + member), insertion };
}

/**
 * The text without `object[key]` (the last of that name). With the insertion that added it, when
 * those bytes are still around it (and it still sits where they put it), exactly they go; otherwise
 * the member goes with the comma before it, or (the first) everything up to the next key, or (the
 * only one) the blank space before it.
 */
export function removeMember(text: string, object: JsonObject, key: string, insertion?: Insertion): string {
  const members = object.members;
  const index = members.findLastIndex((member) => member.key === key);
  if (index < 0) return text;
  const { keyStart, value } = members[index]!;
  if (insertion && fits(text, keyStart, value.end, insertion) && (insertion.before.startsWith(',') ? index > 0 : members.length === 1)) {
    return splice(text, keyStart - insertion.before.length, value.end + insertion.after.length, '');
  }
  if (index > 0) return splice(text, members[index - 1]!.value.end, value.end, '');
  if (members.length > 1) return splice(text, keyStart, members[1]!.keyStart, '');
  let start = keyStart;
  while (/[ \t\r\n]/.test(text[start - 1]!)) start--;
  return splice(text, start, value.end, '');
}

function fits(text: string, start: number, end: number, insertion: Insertion): boolean {
  return (
    start >= insertion.before.length &&
    text.slice(start - insertion.before.length, start) === insertion.before &&
    text.slice(end, end + insertion.after.length) === insertion.after
  );
}

/** JSON for a member value: pretty at `indent` when members sit on their own lines, else compact. */
function render(value: unknown, indent: string | null, style: JsonStyle): string {
  if (indent === null) return JSON.stringify(value);
  return JSON.stringify(value, null, style.unit)
    .split('\n')
    .join(style.eol + indent);
}

/** Whether only whitespace precedes offset on its line. */
function ownLine(text: string, offset: number): boolean {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*$/.test(text.slice(lineStart, offset));
}

/** The leading whitespace of the line holding offset. */
function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/** The `:` separator a neighbour uses (`": "`, `":"`, `" : "`), when it is plain whitespace. */
function colonOf(text: string, keyStart: number, valueStart: number): string {
  let i = keyStart + 1;
  while (i < valueStart && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  const colon = text.slice(i + 1, valueStart);
  return /^[ \t]*:[ \t]*$/.test(colon) ? colon : ': ';
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}
