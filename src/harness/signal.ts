// POST signal: deliver a signal to a running exec's process group.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { checkSignalRequest, type OkResponse, type SignalRequest } from '../protocol/messages.js';
import type { HarnessContext } from './context.js';
import { signalName } from './process.js';
import { readJson, sendError, sendJson } from './respond.js';

export async function handleSignal(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, ctx: HarnessContext): Promise<void> {
  let req: SignalRequest;
  try {
    req = checkSignalRequest(await readJson(stream));
  } catch (err) {
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  const sig = signalName(req.signal);
  if (!sig) return sendError(stream, 400, 'BAD_REQUEST', `unknown signal ${JSON.stringify(req.signal)}`);
  const proc = ctx.procs.get(req.execId);
  if (!proc || !proc.running) return sendError(stream, 404, 'NO_SUCH_EXEC', `no running exec ${req.execId}`);
  proc.signal(sig);
  const body: OkResponse = { ok: true };
  sendJson(stream, 200, body);
}
