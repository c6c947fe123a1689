// Echoing what a user wrote in a one-line error: a 200 KB key or value repeated back is an echo, not a
// cause, and a newline in it would split the line; so anything long is cut to its start and its length,
// and what would break or hide the line is escaped.

/** Characters of a long input kept in an error. */
const KEEP = 40;

// Control characters and Unicode line breaks (JSON.stringify leaves U+0085, U+2028 and U+2029 as they are).
const UNPRINTABLE = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/g;

/** `text` with what would break or hide the line escaped (a parser's message that quotes the source). */
export const escapeUnprintable = (text: string): string => text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const clip = (text: string): string => (text.length <= 2 * KEEP ? text : `${text.slice(0, KEEP)}… (${text.length} characters)`);

/** `text` unquoted (a key in a field path): clipped when long, unprintable characters escaped. */
export const clipInput = (text: string): string => escapeUnprintable(clip(text));

/** What the user wrote, quoted (strings as JSON strings): clipped when long, unprintable characters escaped. */
export function quoteInput(value: unknown): string {
  if (typeof value !== 'string') return clipInput(JSON.stringify(value) ?? String(value));
  const quoted = value.length <= 2 * KEEP ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, KEEP)).slice(0, -1)}…" (${value.length} characters)`;
  return escapeUnprintable(quoted);
}
