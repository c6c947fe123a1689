// Makes text from a machine safe to print on a terminal: control characters become visible escapes.

/**
 * C0 controls but tab (ESC starts terminal escape sequences, CR rewrites the line, LF would start a line
 * with forged content), DEL, the C1 controls (U+0080–U+009F; some terminals act on them), the Unicode
 * line and paragraph separators and the bidirectional overrides (which reorder what the reader sees).
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with each unsafe character shown as `\xHH` (or `\uHHHH` above U+00FF); everything else unchanged. */
export function visibleText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
