// What a tool call returns to the model: text, or an error as one line it can act on (isError), never a stack.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AegisApiError, AegisNotRunningError } from '../sdk/errors.js';

export function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

export function errorResult(line: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: line }] };
}

/** A thrown error as one line: the daemon's reason code and message, a timeout with what to change, else the first line. */
export function errorLine(err: unknown, timeoutSeconds?: number): string {
  if (err instanceof AegisApiError) return `${err.code}: ${[err.message, ...err.issues.map((i) => `${i.path}: ${i.message}`)].join('; ')}`;
  if (err instanceof AegisNotRunningError) return err.message;
  if (err instanceof Error && err.name === 'TimeoutError') {
    return `timed out after ${timeoutSeconds ?? '?'} s and was stopped; pass a larger timeoutSeconds (at most ${MAX_TIMEOUT_SECONDS}) if it needs longer`;
  }
  if (err instanceof Error && err.name === 'AbortError') return 'cancelled by the client';
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? 'unknown error';
}

export const MAX_TIMEOUT_SECONDS = 3600;
