import { positionOf, SyntaxErrorAt } from './types.js';

/** A table header or key-value pair found in a TOML document, with its full key path. */
export interface TomlEntry {
  path: string[];
  /** 1-based line where it starts. */
  line: number;
  /** Offsets: where the header or key starts, and just after the header's `]` or the value's end. */
  start: number;
  end: number;
  kind: 'table' | 'array-table' | 'value';
  /** The decoded value when it is a single-line string. */
  string?: string;
  /** The decoded items when the value is an array of single-line strings. */
  strings?: string[];
  /** Whether the value is an inline table (`{…}`). */
  inlineTable?: boolean;
}

/**
 * Checks a TOML document's syntax and lists its tables and keys, so the installer can refuse a
 * broken file (naming the line) and find every definition of `mcp_servers.codestrator` and the
 * lines it spans.
 * It checks syntax only (TOML 1.0, plus 1.1's newlines in inline tables); duplicate keys are
 * left to Codex, which names them itself. Throws SyntaxErrorAt.
 */
export function scanToml(text: string): TomlEntry[] {
  return new TomlScanner(text).document();
}

const BARE_KEY = /[A-Za-z0-9_-]+/y;
const SCALAR = /[0-9A-Za-z_:.+-]+/y;
const SCALARS = [
  /^[+-]?(0|[1-9](_?\d)*)$/, // decimal integer
  /^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$|^0o[0-7](_?[0-7])*$|^0b[01](_?[01])*$/,
  /^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/, // float
  /^[+-]?(inf|nan)$/,
  /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:\d{2})?$/, // date, date-time
  /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/, // local time
];
const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\u001b', '"': '"', '\\': '\\' };

class TomlScanner {
  private pos = 0;
  private readonly entries: TomlEntry[] = [];

  constructor(private readonly text: string) {}

  document(): TomlEntry[] {
    let table: string[] = [];
    if (this.text.startsWith('\uFEFF')) this.pos = 1;
    while (this.pos < this.text.length) {
      this.spaces();
      const char = this.text[this.pos];
      if (char === '[') table = this.header();
      else if (char !== '#' && char !== '\n' && char !== '\r' && char !== undefined) this.keyValue(table);
      this.endOfLine();
    }
    return this.entries;
  }

  private fail(reason: string, at = this.pos): never {
    const { line, column } = positionOf(this.text, at);
    throw new SyntaxErrorAt(reason, line, column);
  }

  private lineOf(at: number): number {
    return positionOf(this.text, at).line;
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  /** Spaces, newlines and comments (inside arrays and inline tables). */
  private blank(): void {
    for (;;) {
      this.spaces();
      const char = this.text[this.pos];
      if (char === '#') this.comment();
      else if (char === '\n') this.pos++;
      else if (char === '\r' && this.text[this.pos + 1] === '\n') this.pos += 2;
      else return;
    }
  }

  private comment(): void {
    while (this.pos < this.text.length && this.text[this.pos] !== '\n' && this.text[this.pos] !== '\r') this.pos++;
  }

  /** After a header or key-value: optional spaces and comment, then a newline or the end. */
  private endOfLine(): void {
    this.spaces();
    if (this.text[this.pos] === '#') this.comment();
    if (this.pos >= this.text.length) return;
    if (this.text[this.pos] === '\n') this.pos++;
    else if (this.text.startsWith('\r\n', this.pos)) this.pos += 2;
    else this.fail(`expected the end of the line, found ${JSON.stringify(this.text[this.pos])}`);
  }

  private header(): string[] {
    const start = this.pos;
    const array = this.text.startsWith('[[', this.pos);
    this.pos += array ? 2 : 1;
    this.spaces();
    const path = this.key();
    this.spaces();
    const close = array ? ']]' : ']';
    if (!this.text.startsWith(close, this.pos)) this.fail(`expected "${close}" to close the table header`);
    this.pos += close.length;
    this.entries.push({ path, line: this.lineOf(start), start, end: this.pos, kind: array ? 'array-table' : 'table' });
    return path;
  }

  private key(): string[] {
    const path = [this.simpleKey()];
    for (;;) {
      const save = this.pos;
      this.spaces();
      if (this.text[this.pos] !== '.') {
        this.pos = save;
        return path;
      }
      this.pos++;
      this.spaces();
      path.push(this.simpleKey());
    }
  }

  private simpleKey(): string {
    const char = this.text[this.pos];
    if (char === '"') return this.basicString();
    if (char === "'") return this.literalString();
    BARE_KEY.lastIndex = this.pos;
    const match = BARE_KEY.exec(this.text);
    if (!match) this.fail('expected a key');
    this.pos += match[0].length;
    return match[0];
  }

  private keyValue(table: string[]): void {
    const start = this.pos;
    const path = [...table, ...this.key()];
    this.spaces();
    if (this.text[this.pos] !== '=') this.fail('expected "=" after the key');
    this.pos++;
    this.spaces();
    const entry: TomlEntry = { path, line: this.lineOf(start), start, end: start, kind: 'value' };
    this.entries.push(entry);
    const value = this.value(entry);
    if (typeof value === 'string') entry.string = value;
    else if (value) entry.strings = value;
    entry.end = this.pos;
  }

  /** Reads a value; returns it decoded when it is a single-line string or an array of them. */
  private value(entry?: TomlEntry): string | string[] | undefined {
    const text = this.text;
    const char = text[this.pos];
    if (text.startsWith('"""', this.pos)) this.multiline('"""');
    else if (text.startsWith("'''", this.pos)) this.multiline("'''");
    else if (char === '"') return this.basicString();
    else if (char === "'") return this.literalString();
    else if (char === '[') return this.array();
    else if (char === '{') {
      if (entry) entry.inlineTable = true;
      this.inlineTable(entry?.path ?? []);
    } else if (text.startsWith('true', this.pos) || text.startsWith('false', this.pos)) this.pos += char === 't' ? 4 : 5;
    else this.scalar();
    return undefined;
  }

  private scalar(): void {
    const start = this.pos;
    SCALAR.lastIndex = this.pos;
    let token = SCALAR.exec(this.text)?.[0];
    if (!token) this.fail('expected a value');
    // A date and a time may be separated by one space (`1979-05-27 07:32:00Z`).
    if (/^\d{4}-\d{2}-\d{2}$/.test(token) && /^ \d{2}:/.test(this.text.slice(start + token.length, start + token.length + 4))) {
      SCALAR.lastIndex = start + token.length + 1;
      token = `${token} ${SCALAR.exec(this.text)![0]}`;
    }
    if (!SCALARS.some((pattern) => pattern.test(token))) this.fail(`${JSON.stringify(token)} is not a TOML value`, start);
    this.pos = start + token.length;
  }

  private basicString(): string {
    const start = this.pos++;
    let out = '';
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined || char === '\n' || char === '\r') this.fail('unterminated string', start);
      this.pos++;
      if (char === '"') return out;
      out += char === '\\' ? this.escape() : char;
    }
  }

  private escape(): string {
    const char = this.text[this.pos];
    if (char !== undefined && ESCAPES[char] !== undefined) {
      this.pos++;
      return ESCAPES[char]!;
    }
    const width = char === 'u' ? 4 : char === 'U' ? 8 : char === 'x' ? 2 : 0;
    const hex = this.text.slice(this.pos + 1, this.pos + 1 + width);
    if (width === 0 || !/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== width) this.fail('invalid escape sequence', this.pos - 1);
    const code = parseInt(hex, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail('invalid Unicode escape', this.pos - 1);
    this.pos += 1 + width;
    return String.fromCodePoint(code);
  }

  private literalString(): string {
    const start = this.pos++;
    const end = this.text.slice(this.pos).search(/['\r\n]/);
    if (end < 0 || this.text[this.pos + end] !== "'") this.fail('unterminated string', start);
    const value = this.text.slice(this.pos, this.pos + end);
    this.pos += end + 1;
    return value;
  }

  /** A multi-line string; up to two quotes may directly precede the closing delimiter. */
  private multiline(delimiter: string): void {
    const start = this.pos;
    this.pos += 3;
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated multi-line string', start);
      if (this.text.startsWith(delimiter, this.pos)) {
        this.pos += 3;
        for (let extra = 0; extra < 2 && this.text[this.pos] === delimiter[0]; extra++) this.pos++;
        return;
      }
      if (delimiter === '"""' && this.text[this.pos] === '\\') {
        this.pos++;
        if (/[ \t\r\n]/.test(this.text[this.pos] ?? '')) continue; // line-ending backslash
        this.escape();
      } else this.pos++;
    }
  }

  /** An array; its items when every one is a single-line string. */
  private array(): string[] | undefined {
    const start = this.pos++;
    let strings: string[] | undefined = [];
    for (;;) {
      this.blank();
      if (this.pos >= this.text.length) this.fail('unterminated array', start);
      if (this.text[this.pos] === ']') break;
      const item = this.value();
      strings = typeof item === 'string' ? strings?.concat(item) : undefined;
      this.blank();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== ']') this.fail('expected "," or "]" in the array');
    }
    this.pos++;
    return strings;
  }

  private inlineTable(prefix: string[]): void {
    const start = this.pos++;
    this.blank();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated inline table', start);
      this.keyValue(prefix);
      this.blank();
      if (this.text[this.pos] === '}') break;
      if (this.text[this.pos] !== ',') this.fail('expected "," or "}" in the inline table');
      this.pos++;
      this.blank();
    }
    this.pos++;
  }
}
