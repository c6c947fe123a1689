// Writes a run's or an exec's output (the SDK's Execution chunks) to the CLI's stdout and stderr.
import type { Writable } from 'node:stream';
import type { Execution, OutputChunk } from '../../sdk/execution.js';

/**
 * Writes a chunk to its stream and waits when the terminal or pipe is slower than the machine. A system line
 * from aegis itself (output was dropped) goes to stderr, so no gap in the output is silent.
 */
function writeChunk(chunk: OutputChunk, stdout: Writable, stderr: Writable): Promise<void> | void {
  const out = chunk.stream === 'stdout' ? stdout : stderr;
  if (out.write(chunk.data)) return;
  return new Promise((resolve) => out.once('drain', resolve));
}

/** Writes the execution's output as it comes, then its closing sentence (if any) as an `error:` line; resolves with its exit code. */
export async function printExecution(execution: Execution, stdout: Writable, stderr: Writable): Promise<number> {
  for await (const chunk of execution) await writeChunk(chunk, stdout, stderr);
  const { exitCode, message } = await execution.wait();
  if (message) stderr.write(`error: ${message}\n`);
  return exitCode;
}
