// POST resize: the terminal of an exec that runs on one takes a new size (the kernel tells its foreground
// process group with SIGWINCH).
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { checkResizeRequest, type OkResponse, type ResizeRequest } from '../protocol/messages.js';
import type { HarnessContext } from './context.js';
import { readJson, sendError, sendJson } from './respond.js';

export async function handleResize(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, ctx: HarnessContext): Promise<void> {
  let req: ResizeRequest;
  try {
    req = checkResizeRequest(await readJson(stream));
  } catch (err) {
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  const proc = ctx.procs.get(req.execId);
  if (!proc || !proc.running) return sendError(stream, 404, 'NO_SUCH_EXEC', `no running exec ${req.execId}`);
  if (!proc.pty) return sendError(stream, 400, 'BAD_REQUEST', `exec ${req.execId} has no terminal`);
  try {
    proc.pty.resize({ cols: req.cols, rows: req.rows });
  } catch (err) {
    return sendError(stream, 500, 'INTERNAL', (err as Error).message);
  }
  const body: OkResponse = { ok: true };
  sendJson(stream, 200, body);
}
