// One NDJSON log record: a chunk of a process's output (text or base64 for non-UTF-8 bytes) or the exit.
import { isUtf8 } from 'node:buffer';

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogExit {
  code: number | null;
  signal: string | null;
  /** Why the process or machine ended when that is not just the code (e.g. OOMKilled, StartFailed). */
  reason?: string;
  message?: string;
}

export interface LogEntry {
  ts: string;
  stream: LogStream;
  /** Output bytes that are valid UTF-8. */
  text?: string;
  /** Output bytes that are not valid UTF-8, base64-encoded, so binary output survives unchanged. */
  b64?: string;
  exit?: LogExit;
}

export function chunkEntry(stream: 'stdout' | 'stderr', chunk: Buffer): LogEntry {
  const ts = new Date().toISOString();
  return isUtf8(chunk) ? { ts, stream, text: chunk.toString('utf8') } : { ts, stream, b64: chunk.toString('base64') };
}

export function entryBytes(e: LogEntry): Buffer {
  return e.text !== undefined ? Buffer.from(e.text, 'utf8') : Buffer.from(e.b64 ?? '', 'base64');
}

/**
 * Holds back a trailing partial UTF-8 sequence so that text split across reads still lands as text.
 * Returns the part of `carry + chunk` that ends on a character boundary and the bytes to carry over.
 */
export function splitAtCharBoundary(chunk: Buffer): { whole: Buffer; rest: Buffer } {
  let i = chunk.length - 1;
  // Walk back over at most three continuation bytes to the lead byte of the last character.
  while (i >= 0 && i >= chunk.length - 4 && (chunk[i] & 0xc0) === 0x80) i--;
  if (i < 0) return { whole: chunk, rest: Buffer.alloc(0) };
  const lead = chunk[i];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (chunk.length - i >= need) return { whole: chunk, rest: Buffer.alloc(0) };
  return { whole: chunk.subarray(0, i), rest: Buffer.from(chunk.subarray(i)) };
}
