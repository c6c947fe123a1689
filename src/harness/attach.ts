// POST attach: a host (re)connects to the running main process and gets its frame stream, as exec sends it.
//
// Output the main process wrote while no stream was attached was read and dropped; it is not replayed.
// A second attach takes over: the earlier stream (attach or the original exec) gets an exit frame with
// an error and ends, the process runs on. Losing an attach stream never kills the main process.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { encodeFrame, encodeJsonFrame, FRAME_TYPES } from '../protocol/frames.js';
import { FRAME_CONTENT_TYPE, HEADERS } from '../protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/version.js';
import type { HarnessContext } from './context.js';
import { TrackedProcess } from './process.js';
import { streamProcessFrames } from './process-stream.js';
import { isOpen, sendError } from './respond.js';

export function handleAttach(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, ctx: HarnessContext): void {
  stream.resume(); // attach has no stdin: the main process's stdin stays with the exec that started it
  const main = ctx.procs.main();
  if (!main) return sendError(stream, 404, 'NO_MAIN', 'no main process was started on this machine');
  if (!isOpen(stream)) return;
  stream.respond({
    ':status': 200,
    'content-type': FRAME_CONTENT_TYPE,
    [HEADERS.execId]: main.execId,
    [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
  });
  if (main instanceof TrackedProcess) {
    // Running: output from now on, then the exit. Already exited: started and exit at once.
    streamProcessFrames(stream, main);
    return;
  }
  // The main process never started: what exec sent then (no started frame, the reason on stderr, the exit).
  stream.write(encodeFrame(FRAME_TYPES.stderr, Buffer.from(`${main.message}\n`)));
  stream.end(encodeJsonFrame(FRAME_TYPES.exit, main.exit));
}
