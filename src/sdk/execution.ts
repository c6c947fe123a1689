// A command running in a machine (a task from run(), or an exec in an instance), seen from the client: its
// output as an async iterator or callbacks, and its exit status. Both stream the same NDJSON records (output
// chunks, then one exit record), so one class serves both.
import { constants } from 'node:os';

export type OutputStream = 'stdout' | 'stderr' | 'system';

/** A piece of output. `system`: a line from Aegis itself about the output (some was dropped, say). */
export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

/** One record of a task's or an exec's output stream as the daemon sends it. */
export interface OutputRecord {
  stream: OutputStream;
  text?: string;
  b64?: string;
  exit?: RawExit;
}

/** The exit record as the daemon reports it. */
export interface RawExit {
  code: number | null;
  signal: string | null;
  reason?: string;
  message?: string;
}

export interface ExitStatus {
  /**
   * As a shell reports it: the command's code; 128+N when killed by signal N; 130 when cancelled; 125 when it
   * never started (bad image, no backend); 255 when the machine or instance went away during the command.
   */
  exitCode: number;
  signal: string | null;
  /** Why it ended when that is not just the code: Cancelled, OOMKilled, MachineLost, InstanceStopped… */
  reason?: string;
  /** A sentence when the outcome needs one (killed for memory, the machine lost, never started). */
  message?: string;
}

export interface OutputResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface OutputCallbacks {
  onStdout?: (data: Buffer) => void | Promise<void>;
  onStderr?: (data: Buffer) => void | Promise<void>;
}

/** The exit status for the daemon's exit record (the CLI exits with its exitCode and prints its message). */
export function exitStatusOf(exit: RawExit): ExitStatus {
  const { signal } = exit;
  const why = (fallback?: string) => ({ ...(exit.reason ? { reason: exit.reason } : {}), ...(exit.message || fallback ? { message: exit.message ?? fallback } : {}) });
  if (exit.reason === 'Cancelled') return { exitCode: 130, signal, reason: exit.reason };
  // An exec cut off by its instance stopping reports code -1.
  if (exit.code === -1) return { exitCode: 255, signal, reason: exit.reason ?? 'InstanceStopped', message: exit.message ?? 'the instance stopped during the command' };
  if (exit.reason === 'OOMKilled') return { exitCode: exit.code ?? 137, signal, ...why() };
  if (exit.code !== null) return { exitCode: exit.code, signal, ...(exit.reason === 'MachineLost' ? why() : {}) };
  if (signal) return { exitCode: 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0), signal };
  // No code and no signal: the command never ran (no backend, image failure, daemon restart).
  return { exitCode: exit.reason === 'MachineLost' ? 255 : 125, signal, ...why('the task failed before its command started') };
}

export interface ExecutionSource {
  /** Makes the daemon accept the command (a run creates its task); open() calls it too. */
  start(): Promise<void>;
  /** Opens the output stream. */
  open(): Promise<AsyncIterable<OutputRecord>>;
  /** The exit when the stream ended without one (e.g. the daemon restarted). */
  missingExit(): Promise<RawExit>;
  /** Stops the command (an abort, or a reader that stopped reading early). */
  cancel(): Promise<void>;
  /** A run's task id (creating the task when it is not yet). */
  taskId?(): Promise<string>;
  signal?: AbortSignal;
}

/**
 * Iterate it (`for await (const chunk of execution)`) for output as it comes, or call wait() (callbacks get
 * the output) or output() (collected). Read once: a second reader gets an error. A reader that stops early
 * (break) cancels the command.
 */
export class Execution implements AsyncIterable<OutputChunk> {
  private consumed = false;
  private exit: ExitStatus | undefined;

  constructor(
    private readonly source: ExecutionSource,
    private readonly callbacks: OutputCallbacks = {},
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
    if (this.consumed) throw new Error('this execution is already being read; its output can be read once');
    this.consumed = true;
    return this.chunks();
  }

  /**
   * Resolves once the daemon accepted the command (a run's task is created): an error here means it never
   * started (a bad spec, no daemon). Reading the output starts it in any case.
   */
  start(): Promise<void> {
    return this.source.start();
  }

  /** The Task a run() created (to reach its machine's files with `{ task: id }`, say); an exec has none. */
  async taskId(): Promise<string> {
    if (!this.source.taskId) throw new Error('an exec has no task id');
    return this.source.taskId();
  }

  /** Stops the command: a run's task is cancelled (exit 130), an exec's command killed. */
  cancel(): Promise<void> {
    return this.source.cancel();
  }

  /** Waits for the command to end, passing output to the callbacks; resolves with its exit status. */
  async wait(): Promise<ExitStatus> {
    if (!this.consumed) for await (const _ of this);
    if (!this.exit) throw new Error('the execution ended without an exit status');
    return this.exit;
  }

  /** Waits for the command to end and returns its stdout and stderr (as UTF-8) with its exit status. */
  async output(): Promise<OutputResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const c of this) {
      if (c.stream === 'stdout') out.push(c.data);
      else if (c.stream === 'stderr') err.push(c.data);
    }
    return { ...(await this.wait()), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  private async *chunks(): AsyncGenerator<OutputChunk> {
    const { source, callbacks } = this;
    const signal = source.signal;
    const onAbort = () => void source.cancel().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    let exit: RawExit | undefined;
    let finished = false;
    try {
      for await (const record of await source.open()) {
        if (record.exit) {
          exit = record.exit;
          continue;
        }
        const data = record.stream === 'system' ? Buffer.from(`${record.text ?? ''}\n`) : record.text !== undefined ? Buffer.from(record.text, 'utf8') : Buffer.from(record.b64 ?? '', 'base64');
        if (record.stream === 'stdout') await callbacks.onStdout?.(data);
        else if (record.stream === 'stderr') await callbacks.onStderr?.(data);
        else if (record.text === undefined) continue;
        yield { stream: record.stream, data };
      }
      if (signal?.aborted) throw signal.reason;
      this.exit = exitStatusOf(exit ?? (await source.missingExit()));
      finished = true;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Stopped early (break, a throw in the loop): the command is not left running unseen.
      if (!finished && !signal?.aborted) await source.cancel().catch(() => undefined);
    }
  }
}
