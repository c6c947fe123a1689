// POST shutdown (and SIGTERM to the harness): stop every child, flush filesystems, exit.
import { spawnSync } from 'node:child_process';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { checkShutdownRequest, type ShutdownRequest, type ShutdownResponse } from '../protocol/messages.js';
import type { HarnessContext } from './context.js';
import { log } from './log.js';
import { readJson, sendError, sendJson } from './respond.js';

/** Flushes dirty pages to disk. Node has no sync(2), so the guest's `sync` binary does it when present. */
function syncFilesystems(): void {
  // Only as PID 1 of a machine: on a host (tests) a global sync is slow and pointless.
  if (process.pid !== 1) return;
  for (const file of ['/bin/sync', '/usr/bin/sync']) {
    const result = spawnSync(file, [], { stdio: 'ignore', env: {}, timeout: 10_000 });
    if (!result.error) return;
  }
  log('no sync binary in the machine; filesystems were not flushed');
}

let stopping: Promise<number> | undefined;

/** SIGTERM children, SIGKILL after graceMs, sync. Idempotent; resolves with the number of processes killed. */
export function stopEverything(ctx: HarnessContext, graceMs: number): Promise<number> {
  if (!stopping) {
    ctx.shuttingDown = true;
    stopping = ctx.procs.terminateAll(graceMs).then((killed) => {
      syncFilesystems();
      return killed;
    });
  }
  return stopping;
}

export async function handleShutdown(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, ctx: HarnessContext): Promise<void> {
  let req: ShutdownRequest;
  try {
    req = checkShutdownRequest(await readJson(stream));
  } catch (err) {
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  const graceMs = req.graceMs ?? ctx.shutdownGraceMs;
  log(`shutdown requested (grace ${graceMs} ms)`);
  const killed = await stopEverything(ctx, graceMs);
  const body: ShutdownResponse = { ok: true, killed };
  sendJson(stream, 200, body);
  // Let the reply reach the host before the process goes away.
  const exit = (): void => ctx.exit(0);
  stream.once('close', exit);
  setTimeout(exit, 500).unref();
}
