// Turns a task's NDJSON log back into bytes on the right stream, and its exit record into an exit code.
import { constants } from 'node:os';
import type { Writable } from 'node:stream';

export interface TaskExit {
  code: number | null;
  signal: string | null;
  reason?: string;
  message?: string;
}

export interface TaskLogEntry {
  stream: 'stdout' | 'stderr' | 'system';
  text?: string;
  b64?: string;
  exit?: TaskExit;
}

/**
 * Writes an output entry and waits when the terminal or pipe is slower than the machine. A system line from
 * aegis itself (output was dropped) goes to stderr on a line of its own, so no gap in the output is silent.
 */
export function writeEntry(entry: TaskLogEntry, stdout: Writable, stderr: Writable): Promise<void> | void {
  if (entry.stream === 'system' && entry.text === undefined) return;
  const out = entry.stream === 'stdout' ? stdout : stderr;
  const bytes = entry.stream === 'system' ? Buffer.from(`${entry.text}\n`) : entry.text !== undefined ? Buffer.from(entry.text, 'utf8') : Buffer.from(entry.b64 ?? '', 'base64');
  if (out.write(bytes)) return;
  return new Promise((resolve) => out.once('drain', resolve));
}

/** The exit code `aegis run` returns, plus a message to print when the outcome needs one. */
export function exitCodeOf(exit: TaskExit): { code: number; message?: string } {
  if (exit.reason === 'Cancelled') return { code: 130 };
  if (exit.reason === 'OOMKilled') return { code: exit.code ?? 137, message: exit.message };
  if (exit.code !== null) return { code: exit.code, ...(exit.reason === 'MachineLost' ? { message: exit.message } : {}) };
  if (exit.signal) {
    const n = constants.signals[exit.signal as keyof typeof constants.signals];
    return { code: 128 + (n ?? 0) };
  }
  // No code and no signal: the command never ran (no backend, image failure, daemon restart).
  return { code: exit.reason === 'MachineLost' ? 255 : 125, message: exit.message ?? 'the task failed before its command started' };
}
