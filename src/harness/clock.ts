// POST clock: set the guest's wall clock to the host's. A VM's clock stands still while qemu has it
// stopped (paused, or saved to disk and restored), so after a wake the host says what time it is.
// Node cannot call clock_settime, so the runtime's own `date` does it (any image, no tools needed).
import { execFile } from 'node:child_process';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { checkClockRequest, type ClockRequest, type OkResponse } from '../protocol/messages.js';
import type { HarnessContext } from './context.js';
import { runtimeTool } from './runtime-dir.js';
import { readJson, sendError, sendJson } from './respond.js';

function setClock(epochMs: number): Promise<void> {
  const date = runtimeTool('date');
  const seconds = `@${Math.floor(epochMs / 1000)}.${String(epochMs % 1000).padStart(3, '0')}`;
  return new Promise((resolve, reject) => {
    execFile(date.file, [...date.args, '-u', '-s', seconds], (err, _out, stderr) =>
      err ? reject(new Error(stderr.trim() || err.message)) : resolve(),
    );
  });
}

export async function handleClock(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, _ctx: HarnessContext): Promise<void> {
  // Only a VM's init says the clock is the machine's own: a sandbox's clock is the host's, never to be set.
  if (process.env.AEGIS_OWN_CLOCK !== '1') return sendError(stream, 400, 'BAD_REQUEST', "this machine runs on the host's clock");
  let req: ClockRequest;
  try {
    req = checkClockRequest(await readJson(stream));
  } catch (err) {
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  try {
    await setClock(req.epochMs);
  } catch (err) {
    return sendError(stream, 500, 'INTERNAL', `cannot set the clock: ${(err as Error).message}`);
  }
  const body: OkResponse = { ok: true };
  sendJson(stream, 200, body);
}
