import { positionOf, SyntaxErrorAt } from './types.js';

/** A JSON object with the offsets of its braces and members, for edits that keep every other byte. */
export interface JsonObject {
  type: 'object';
  /** Offset of `{`. */
  start: number;
  /** Offset just after `}`. */
  end: number;
  members: JsonMember[];
}

/** Any other JSON value: its span and, for scalars, its value. */
interface JsonOther {
  type: 'array' | 'scalar';
  start: number;
  end: number;
  value?: unknown;
}

/** A JSON value with its span in the text. */
export type JsonNode = JsonObject | JsonOther;

/** One `"key": value` of an object. */
export interface JsonMember {
  key: string;
  keyStart: number;
  value: JsonNode;
}

/**
 * Parses JSON keeping offsets. With `comments`, `//` and `/* *\/` comments count as whitespace
 * (Gemini CLI reads its settings that way). Throws SyntaxErrorAt naming line and column.
 */
export function parseJsonTree(text: string, options: { comments: boolean }): JsonNode {
  const parser = new JsonParser(text, options.comments);
  parser.blank();
  const node = parser.value();
  parser.blank();
  if (parser.pos < text.length) parser.fail('unexpected text after the JSON value');
  return node;
}

/** The last member named key (JSON.parse keeps the last of duplicates too). */
export function memberOf(object: JsonObject, key: string): JsonMember | undefined {
  return object.members.findLast((member) => member.key === key);
}

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class JsonParser {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly comments: boolean,
  ) {
    if (text.startsWith('\uFEFF')) this.pos = 1;
  }

  fail(reason: string, at = this.pos): never {
    const { line, column } = positionOf(this.text, at);
    throw new SyntaxErrorAt(reason, line, column);
  }

  blank(): void {
    for (;;) {
      const char = this.text[this.pos];
      if (char === ' ' || char === '\t' || char === '\n' || char === '\r') this.pos++;
      else if (this.comments && this.text.startsWith('//', this.pos)) {
        while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.pos++;
      } else if (this.comments && this.text.startsWith('/*', this.pos)) {
        const end = this.text.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 2;
      } else return;
    }
  }

  value(): JsonNode {
    const start = this.pos;
    const char = this.text[this.pos];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') {
      const value = this.string();
      return { type: 'scalar', start, end: this.pos, value };
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return { type: 'scalar', start, end: this.pos, value };
      }
    }
    NUMBER.lastIndex = this.pos;
    const number = NUMBER.exec(this.text);
    if (!number) this.fail(char === undefined ? 'unexpected end of the file' : `unexpected ${JSON.stringify(char)}`);
    this.pos += number[0].length;
    return { type: 'scalar', start, end: this.pos, value: Number(number[0]) };
  }

  private string(): string {
    const start = this.pos++;
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined || char === '\n') this.fail('unterminated string', start);
      this.pos++;
      if (char === '\\') this.pos++;
      else if (char === '"') break;
    }
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string;
    } catch {
      return this.fail('invalid string (a bad escape or a control character)', start);
    }
  }

  private object(): JsonObject {
    const node: JsonObject = { type: 'object', start: this.pos++, end: 0, members: [] };
    this.blank();
    if (this.text[this.pos] !== '}') {
      for (;;) {
        this.blank();
        if (this.text[this.pos] !== '"') this.fail('expected a property name in double quotes');
        const keyStart = this.pos;
        const key = this.string();
        this.blank();
        if (this.text[this.pos] !== ':') this.fail('expected ":" after the property name');
        this.pos++;
        this.blank();
        node.members.push({ key, keyStart, value: this.value() });
        this.blank();
        if (this.text[this.pos] === '}') break;
        if (this.text[this.pos] !== ',') this.fail('expected "," or "}" after a property');
        this.pos++;
      }
    }
    node.end = ++this.pos;
    return node;
  }

  private array(): JsonOther {
    const start = this.pos++;
    this.blank();
    if (this.text[this.pos] !== ']') {
      for (;;) {
        this.blank();
        this.value();
        this.blank();
        if (this.text[this.pos] === ']') break;
        if (this.text[this.pos] !== ',') this.fail('expected "," or "]" in the array');
        this.pos++;
      }
    }
    return { type: 'array', start, end: ++this.pos };
  }
}
