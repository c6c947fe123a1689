// Streams one process on a response as frames (started, output, exit): the body both exec and attach send.
import type { ServerHttp2Stream } from 'node:http2';
import { encodeFrame, encodeJsonFrame, FRAME_TYPES, MAX_FRAME_PAYLOAD } from '../protocol/frames.js';
import type { ExecExit, ExecStarted } from '../protocol/messages.js';
import type { OutputSink, TrackedProcess } from './process.js';
import { isOpen } from './respond.js';

/** Exit status sent to a stream whose process another attach took over: the process itself runs on. */
export const REPLACED_EXIT: ExecExit = { code: null, signal: null, error: 'another attach took over the main process' };

export interface ProcessStreamHooks {
  /** Runs once the process finished, before the exit frame is written. */
  onFinished?(): void;
  /** Runs when the stream closes while the process still runs and this stream was not replaced. */
  onAbandoned?(): void;
}

/** A stream we may still write frames to: open and not ended by us. */
function writable(stream: ServerHttp2Stream): boolean {
  return isOpen(stream) && !stream.writableEnded;
}

/**
 * Writes the started frame, then the process's output from now on, then its exit. When HTTP/2 flow
 * control pushes back, the process's pipes are paused and the child blocks. The caller has sent the
 * response headers and decides what happens to the request body.
 */
export function streamProcessFrames(stream: ServerHttp2Stream, proc: TrackedProcess, hooks: ProcessStreamHooks = {}): void {
  const started: ExecStarted = { execId: proc.execId, pid: proc.pid };
  stream.write(encodeJsonFrame(FRAME_TYPES.started, started));

  const sink: OutputSink = (kind, chunk) => {
    if (!writable(stream)) {
      proc.detach(sink);
      return true;
    }
    const type = kind === 'stdout' ? FRAME_TYPES.stdout : FRAME_TYPES.stderr;
    // Pipes hand out 64 KiB at most; a bigger chunk is still split so no frame exceeds the host's limit.
    let ok = true;
    for (let at = 0; at < chunk.length || at === 0; at += MAX_FRAME_PAYLOAD) ok = stream.write(encodeFrame(type, chunk.subarray(at, at + MAX_FRAME_PAYLOAD)));
    return ok;
  };
  stream.on('drain', () => {
    if (proc.isAttached(sink)) proc.resumeOutput();
  });

  // The exit frame ends the stream; the host may close it then, which is no abandonment.
  const end = (exit: ExecExit): void => {
    if (!writable(stream)) return;
    stream.resume(); // discard a request body nobody reads, so the host's side can finish
    stream.end(encodeJsonFrame(FRAME_TYPES.exit, exit));
  };
  let finished = false;
  let replaced = false;
  proc.attach(sink, () => {
    replaced = true;
    end(REPLACED_EXIT);
  });

  void proc.finished.then((exit) => {
    finished = true;
    hooks.onFinished?.();
    if (!replaced) end(exit);
  });

  stream.once('close', () => {
    proc.detach(sink);
    if (!finished && !replaced) hooks.onAbandoned?.();
  });
}
