// Host side of attach: the running main process's output and exit, on a fresh stream (see src/harness/attach.ts).
import type { ClientHttp2Session } from 'node:http2';
import { openStream } from './call.js';
import { execStreamHandle, type ExecHandle } from './exec-stream.js';

/**
 * An ExecHandle on the machine's main process: output written from now on (never what came before)
 * and its exit, at once if it already ended. `pid` rejects with NO_MAIN when no main was ever started.
 */
export function attachMain(
  session: ClientHttp2Session,
  protocolVersion: number,
  sendSignal: (execId: string, sig: string) => Promise<void>,
): ExecHandle {
  return execStreamHandle(session, () => openStream(session, 'attach', protocolVersion, {}, true), { route: 'attach', exposeStdin: false, sendSignal });
}
