// Host side of an exec-shaped response (exec and attach): frames decoded into stdout/stderr streams and an exit.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { Readable, type Writable } from 'node:stream';
import { FrameDecoder, FRAME_TYPES, frameJson, type Frame } from '../../protocol/frames.js';
import type { ExecExit } from '../../protocol/messages.js';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, readRefusal, replyStatus } from './call.js';
import { ChannelError, CONNECTION_LOST_MESSAGE } from './channel-error.js';
import { EXEC_START_TIMEOUT_MS } from './channel-limits.js';
import { breakSession, closedBeforeReply, violationOf } from './protocol-violation.js';
import { checkExecErrorFrame, checkExecExit, checkExecId, checkExecStarted } from './reply-checks.js';
import { probeAfterTimeout } from './session-liveness.js';

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
  /** The route, for errors. */
  route: 'exec' | 'attach';
  /** How long the harness may take to answer and send the started (or exit) frame. Default EXEC_START_TIMEOUT_MS. */
  startTimeoutMs?: number;
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
  let startTimer: NodeJS.Timeout | undefined;
  /** `refusal`: the harness's error for a non-200 reply (or the timeout, or the violation), passed on as is. */
  const finish = (result: ExecExit, refusal?: ChannelError): void => {
    if (done) return;
    done = true;
    clearTimeout(startTimer);
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
    finish({ code: null, signal: null, error: (err as Error).message }, err instanceof ChannelError ? err : undefined);
    return { execId: execId.promise, pid: pid.promise, stdout, stderr, stdin: null, exit, signal: () => Promise.reject(err) };
  }
  const s = stream;

  const startTimeoutMs = opts.startTimeoutMs ?? EXEC_START_TIMEOUT_MS;
  startTimer = setTimeout(() => {
    const err = new ChannelError('TIMEOUT', `${opts.route}: the harness did not start the process within ${startTimeoutMs} ms`);
    finish({ code: null, signal: null, error: err.message }, err);
    probeAfterTimeout(session, opts.route);
  }, startTimeoutMs);

  /** The harness sent what no honest harness sends: its session ends and this exec fails with the reason. */
  const violation = (what: string): void => {
    const err = breakSession(session, `${opts.route} stream: ${what}`);
    finish({ code: null, signal: null, error: err.message }, err);
  };

  const decoder = new FrameDecoder();
  let pendingError: string | undefined;
  let started = false;
  /** Handles one frame; throws (ReplyShapeError, SyntaxError) on a malformed one. */
  const onFrame = (frame: Frame): void => {
    switch (frame.type) {
      case FRAME_TYPES.stdout:
        if (!stdout.push(frame.payload)) waiting = true;
        break;
      case FRAME_TYPES.stderr:
        if (!stderr.push(frame.payload)) waiting = true;
        break;
      case FRAME_TYPES.started: {
        if (started) throw new Error('a second started frame');
        started = true;
        clearTimeout(startTimer);
        const info = checkExecStarted(frameJson(frame));
        execId.resolve(info.execId);
        pid.resolve(info.pid);
        break;
      }
      case FRAME_TYPES.error:
        pendingError = checkExecErrorFrame(frameJson(frame)).message;
        break;
      case FRAME_TYPES.exit: {
        const status = checkExecExit(frameJson(frame));
        return finish(pendingError && !status.error ? { ...status, error: pendingError } : status);
      }
    }
  };
  const onData = (chunk: Buffer): void => {
    if (done) {
      // Nothing follows the exit frame: a harness that keeps sending only gets its stream reset.
      if (chunk.length > 0 && !s.destroyed) s.close(NGHTTP2_CANCEL);
      return;
    }
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      return violation((err as Error).message);
    }
    for (const frame of frames) {
      try {
        onFrame(frame);
      } catch (err) {
        return violation(`bad frame of type ${frame.type}: ${(err as Error).message}`);
      }
      if (done) return;
    }
    if (waiting) s.pause();
  };

  let refused = false;
  let responded = false;
  s.once('response', (headers: IncomingHttpHeaders) => {
    responded = true;
    const status = replyStatus(session, headers, opts.route);
    if (status instanceof ChannelError) return finish({ code: null, signal: null, error: status.message }, status);
    if (status !== 200) {
      refused = true;
      readRefusal(session, s, status, opts.route).then(
        (err) => finish({ code: null, signal: null, error: err.message }, err),
        (err: ChannelError) => finish({ code: null, signal: null, error: err.message }, err),
      );
      return;
    }
    const id = headers[HEADERS.execId];
    if (id !== undefined) {
      try {
        execId.resolve(checkExecId(id, `${HEADERS.execId} header`));
      } catch (err) {
        return violation((err as Error).message);
      }
    }
    s.on('data', onData);
  });
  s.once('close', () => {
    if (refused) return; // readRefusal settles it
    const broken = responded ? violationOf(session) : closedBeforeReply(session, s, opts.route);
    if (broken?.code === 'PROTOCOL_VIOLATION') return finish({ code: null, signal: null, error: broken.message }, broken);
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
