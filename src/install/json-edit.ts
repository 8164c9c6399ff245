import { memberOf, type JsonNode, type JsonObject } from './json-tree.js';

/** How a JSON file is laid out, so an added member looks like its neighbours. */
export interface JsonStyle {
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
 * The text with `object[key]` set to value: an existing member's value is replaced in place; a new
 * member is appended after the last one with the same separator and indentation, so removing it
 * again (removeMember) gives back the original bytes.
 */
export function setMember(text: string, object: JsonObject, key: string, value: unknown, style: JsonStyle): string {
  const existing = memberOf(object, key);
  if (existing) {
    const multiline = ownLine(text, existing.keyStart);
    const rendered = render(value, multiline ? lineIndent(text, existing.keyStart) : null, style);
    return splice(text, existing.value.start, existing.value.end, rendered);
  }
  const last = object.members.at(-1);
  if (!last) {
    const outer = lineIndent(text, object.start);
    const indent = outer + style.unit;
    const member = `${JSON.stringify(key)}: ${render(value, indent, style)}`;
    return splice(text, object.start + 1, object.end - 1, `${style.eol}${indent}${member}${style.eol}${outer}`);
  }
  let gapStart = last.keyStart;
  while (gapStart > 0 && /[ \t\r\n]/.test(text[gapStart - 1]!)) gapStart--;
  const gap = text.slice(gapStart, last.keyStart);
  const multiline = gap.includes('\n');
  const indent = multiline ? gap.slice(gap.lastIndexOf('\n') + 1) : null;
  const member = `${JSON.stringify(key)}${colonOf(text, last.keyStart, last.value.start)}${render(value, indent, style)}`;
  return splice(text, last.value.end, last.value.end, `,${gap}${member}`);
}

/**
 * The text without `object[key]` (the last of that name). The last member goes with the comma and
 * whitespace before it, the first with everything up to the next key, an only member leaves `{}`.
 */
export function removeMember(text: string, object: JsonObject, key: string): string {
  const members = object.members;
  const index = members.findLastIndex((member) => member.key === key);
  if (index < 0) return text;
  if (members.length === 1) return splice(text, object.start + 1, object.end - 1, '');
  if (index > 0) return splice(text, members[index - 1]!.value.end, members[index]!.value.end, '');
  return splice(text, members[0]!.keyStart, members[1]!.keyStart, '');
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
