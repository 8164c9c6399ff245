/**
 * Control characters (C0 but tab and newline, DEL, C1) and the bidirectional overrides that can
 * disguise text: a title carrying `ESC ]` or `ESC [2J` must not drive the terminal that prints it
 * or the viewer that renders the mirror. Other non-ASCII text passes as is.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const escapeOne = (char: string): string => {
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** The text with each control character written as a visible escape (`\x1b`, `\u202e`). */
export const escapeControls = (text: string): string => text.replace(CONTROLS, escapeOne);

/** One line of display text: runs of whitespace (newlines too) become one space, controls are escaped. */
export const displayLine = (text: string): string => escapeControls(text.replace(/[\s\u2028\u2029]+/g, ' '));

/** Characters JSON.stringify leaves raw that a terminal may still act on: DEL, C1, bidi overrides. */
const RAW_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** JSON.stringify whose output is safe to print: those characters become \u escapes (the same JSON value). */
export const printableJson = (value: unknown, indent?: number): string =>
  JSON.stringify(value, null, indent).replace(RAW_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
