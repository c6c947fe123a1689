// Host side of an exec-shaped response (exec and attach): frames decoded into stdout/stderr streams and an exit.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { Readable, type Writable } from 'node:stream';
import { FrameDecoder, FRAME_TYPES, frameJson } from '../../protocol/frames.js';
import type { ExecErrorFrame, ExecExit, ExecStarted } from '../../protocol/messages.js';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, readBody, replyError } from './call.js';
import { ChannelError, CONNECTION_LOST_MESSAGE } from './channel-error.js';

/** Per-stream buffer on the host before the guest is told to wait (HTTP/2 flow control does the rest). */
const OUTPUT_HIGH_WATER_MARK = 64 * 1024;

export interface ExecHandle {
  /** The harness's id for this exec (known as soon as the harness accepted it). */
  readonly execId: Promise<string>;
  /**
   * The guest pid; rejects when the process never started (command not found) or the harness refused
   * the request (then with the harness's error code, e.g. MAIN_RUNNING or NO_MAIN).
   */
  readonly pid: Promise<number>;
  /**
   * Output streams. Read both (or resume() the one you ignore): they share one flow-controlled
   * HTTP/2 stream, so a full stderr buffer also holds stdout back, exactly like pipes hold a child.
   */
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Write end of the command's stdin when the request has `stdin: true` and no `opts.stdin` was given. */
  readonly stdin: Writable | null;
  /**
   * Never rejects. Resolves after the output streams got all their data: the process's status, or
   * `{code: null, signal: null, error}` when the harness refused the request, the connection was lost
   * or (for the main process) another attach took the output over.
   */
  readonly exit: Promise<ExecExit>;
  /** Sends a signal (`SIGTERM`, `KILL`, ...) to the exec's process group in the guest. */
  signal(sig: string): Promise<void>;
}

export interface ExecStreamOptions {
  /** Piped into the request body (the command's stdin). */
  stdin?: Readable;
  /** Hand the request stream out as the handle's `stdin` (the caller writes the command's input). */
  exposeStdin: boolean;
  sendSignal(execId: string, sig: string): Promise<void>;
}

function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = quiet(new Promise<T>((res, rej) => ((resolve = res), (reject = rej))));
  return { promise, resolve, reject };
}

/**
 * Opens a stream with `open` (which throws when the session is gone) and turns its response into an
 * ExecHandle: a 200 carries the exec id header and frames, anything else is a refusal.
 */
export function execStreamHandle(session: ClientHttp2Session, open: () => ClientHttp2Stream, opts: ExecStreamOptions): ExecHandle {
  const execId = deferred<string>();
  const pid = deferred<number>();
  let settle!: (exit: ExecExit) => void;
  const exit = new Promise<ExecExit>((resolve) => (settle = resolve));

  let stream: ClientHttp2Stream | undefined;
  let waiting = false; // the HTTP/2 stream is paused because an output buffer is full
  const wake = (): void => {
    if (waiting && stream && !stream.destroyed) {
      waiting = false;
      stream.resume();
    }
  };
  const stdout = new Readable({ read: wake, highWaterMark: OUTPUT_HIGH_WATER_MARK });
  const stderr = new Readable({ read: wake, highWaterMark: OUTPUT_HIGH_WATER_MARK });

  let done = false;
  /** `refusal`: the harness's error for a non-200 reply, passed on as is. */
  const finish = (result: ExecExit, refusal?: ChannelError): void => {
    if (done) return;
    done = true;
    const failure =
      refusal ??
      (result.error === CONNECTION_LOST_MESSAGE
        ? new ChannelError('CONNECTION_LOST', result.error)
        : new ChannelError('NO_SUCH_EXEC', `the process did not start: ${result.error ?? `exit code ${result.code}`}`));
    execId.reject(failure);
    pid.reject(failure);
    stdout.push(null);
    stderr.push(null);
    if (opts.stdin && stream) opts.stdin.unpipe(stream);
    if (stream && !stream.destroyed && !stream.closed) {
      // The exit frame is the last one; reset our half too if stdin was still open.
      if (stream.readableEnded || result.error) stream.close(NGHTTP2_CANCEL);
      else stream.once('end', () => stream?.close());
      stream.resume();
    }
    settle(result);
  };

  try {
    stream = open();
  } catch (err) {
    finish({ code: null, signal: null, error: (err as Error).message });
    return { execId: execId.promise, pid: pid.promise, stdout, stderr, stdin: null, exit, signal: () => Promise.reject(err) };
  }
  const s = stream;

  const decoder = new FrameDecoder();
  let pendingError: string | undefined;
  const onData = (chunk: Buffer): void => {
    if (done) return;
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      return finish({ code: null, signal: null, error: `corrupt exec stream: ${(err as Error).message}` });
    }
    for (const frame of frames) {
      switch (frame.type) {
        case FRAME_TYPES.stdout:
          if (!stdout.push(frame.payload)) waiting = true;
          break;
        case FRAME_TYPES.stderr:
          if (!stderr.push(frame.payload)) waiting = true;
          break;
        case FRAME_TYPES.started: {
          const started = frameJson<ExecStarted>(frame);
          execId.resolve(started.execId);
          pid.resolve(started.pid);
          break;
        }
        case FRAME_TYPES.error:
          pendingError = frameJson<ExecErrorFrame>(frame).message;
          break;
        case FRAME_TYPES.exit: {
          const status = frameJson<ExecExit>(frame);
          return finish(pendingError && !status.error ? { ...status, error: pendingError } : status);
        }
      }
    }
    if (waiting) s.pause();
  };

  let refused = false;
  s.once('response', (headers: IncomingHttpHeaders) => {
    const status = Number(headers[':status']);
    if (status !== 200) {
      refused = true;
      void readBody(s).then(
        (body) => {
          const err = replyError(status, body);
          finish({ code: null, signal: null, error: err.message }, err);
        },
        () => finish({ code: null, signal: null, error: CONNECTION_LOST_MESSAGE }),
      );
      return;
    }
    const id = headers[HEADERS.execId];
    if (typeof id === 'string') execId.resolve(id);
    s.on('data', onData);
  });
  s.once('close', () => {
    if (refused) return; // readBody settles it
    // A stream also "ends" when its session dies; only an end on a live session is the harness's doing.
    let error = CONNECTION_LOST_MESSAGE;
    if (!session.destroyed && !session.closed) {
      error = s.rstCode ? `exec stream was reset (HTTP/2 error ${s.rstCode})` : 'exec stream ended without an exit status';
    }
    finish({ code: null, signal: null, error });
  });

  if (opts.stdin) {
    opts.stdin.once('error', () => s.end());
    opts.stdin.pipe(s);
  }

  return {
    execId: execId.promise,
    pid: pid.promise,
    stdout,
    stderr,
    stdin: opts.exposeStdin ? s : null,
    exit,
    signal: async (sig: string) => opts.sendSignal(await execId.promise, sig),
  };
}
