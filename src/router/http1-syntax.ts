// Character rules shared by the fast path's request and response head readers (RFC 9110 §5.6.2, RFC 9112 §2.2),
// as loops over character codes: they run on every request, where a regular expression per line cost more.

/** tchar, by character code. */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;

/** Whether text[from, to) is a non-empty token (a field name or method: no whitespace, no separators). */
export function isToken(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Whether a head (up to, not including, its final CRLF CRLF) holds a control character other than tab, or a
 * CR or LF that is not part of a CRLF: a line end that some parser would see and another would not.
 */
export function hasBadHeadChar(text: string): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x7f) continue;
    if (c === 0x09) continue;
    if (c === 0x0d && i + 1 < n && text.charCodeAt(i + 1) === 0x0a) {
      i++;
      continue;
    }
    return true;
  }
  return false;
}
