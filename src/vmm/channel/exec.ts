// Host side of exec: one HTTP/2 stream per command; frames decoded into stdout/stderr streams and an exit.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { Readable, type Writable } from 'node:stream';
import { FrameDecoder, FRAME_TYPES, frameJson } from '../../protocol/frames.js';
import {
  encodeExecRequest,
  MAX_EXEC_HEADER_BYTES,
  type ExecErrorFrame,
  type ExecExit,
  type ExecRequest,
  type ExecStarted,
} from '../../protocol/messages.js';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, openStream, readBody, replyError } from './call.js';
import { ChannelError, CONNECTION_LOST_MESSAGE } from './channel-error.js';

/** Per-stream buffer on the host before the guest is told to wait (HTTP/2 flow control does the rest). */
const OUTPUT_HIGH_WATER_MARK = 64 * 1024;

export interface ExecOptions {
  /** Piped to the command's stdin (sets `stdin: true` in the request). */
  stdin?: Readable;
}

export interface ExecHandle {
  /** The harness's id for this exec (known as soon as the harness accepted it). */
  readonly execId: Promise<string>;
  /** The guest pid; rejects when the process never started (command not found, refused request). */
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
   * `{code: null, signal: null, error}` when the harness refused the exec or the connection was lost.
   */
  readonly exit: Promise<ExecExit>;
  /** Sends a signal (`SIGTERM`, `KILL`, ...) to the exec's process group in the guest. */
  signal(sig: string): Promise<void>;
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

export function startExec(
  session: ClientHttp2Session,
  protocolVersion: number,
  request: ExecRequest,
  opts: ExecOptions,
  sendSignal: (execId: string, sig: string) => Promise<void>,
): ExecHandle {
  const req: ExecRequest = { ...request, stdin: request.stdin || opts.stdin !== undefined };
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
  const finish = (result: ExecExit): void => {
    if (done) return;
    done = true;
    const failure =
      result.error === CONNECTION_LOST_MESSAGE
        ? new ChannelError('CONNECTION_LOST', result.error)
        : new ChannelError('NO_SUCH_EXEC', `the process did not start: ${result.error ?? `exit code ${result.code}`}`);
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

  // Small requests travel in a header; a big one (large env) at the start of the body.
  const encoded = encodeExecRequest(req);
  const inBody = encoded.length > MAX_EXEC_HEADER_BYTES ? Buffer.from(JSON.stringify(req), 'utf8') : undefined;
  try {
    stream = inBody
      ? openStream(session, 'exec', protocolVersion, { [HEADERS.execLength]: String(inBody.length) }, false)
      : openStream(session, 'exec', protocolVersion, { [HEADERS.exec]: encoded }, !req.stdin);
    if (inBody) {
      stream.write(inBody);
      if (!req.stdin) stream.end();
    }
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
        (body) => finish({ code: null, signal: null, error: replyError(status, body).message }),
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
    stdin: req.stdin && !opts.stdin ? s : null,
    exit,
    signal: async (sig: string) => sendSignal(await execId.promise, sig),
  };
}
