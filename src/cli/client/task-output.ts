// Writes a run's or an exec's output (the SDK's Execution chunks) to the CLI's stdout and stderr.
import type { Writable } from 'node:stream';
import type { OutputChunk } from '../../sdk/execution.js';

/**
 * Writes a chunk to its stream and waits when the terminal or pipe is slower than the machine. A system line
 * from aegis itself (output was dropped) goes to stderr, so no gap in the output is silent.
 */
export function writeChunk(chunk: OutputChunk, stdout: Writable, stderr: Writable): Promise<void> | void {
  const out = chunk.stream === 'stdout' ? stdout : stderr;
  if (out.write(chunk.data)) return;
  return new Promise((resolve) => out.once('drain', resolve));
}
