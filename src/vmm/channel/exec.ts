// Host side of exec: one HTTP/2 stream per command, the request in a header (or, when big, the body's start).
import type { ClientHttp2Session } from 'node:http2';
import type { Readable } from 'node:stream';
import { encodeExecRequest, MAX_EXEC_HEADER_BYTES, type ExecRequest } from '../../protocol/messages.js';
import { HEADERS } from '../../protocol/routes.js';
import { openStream } from './call.js';
import { execStreamHandle, type ExecHandle } from './exec-stream.js';

export type { ExecHandle } from './exec-stream.js';

export interface ExecOptions {
  /** Piped to the command's stdin (sets `stdin: true` in the request). */
  stdin?: Readable;
  /** How long the harness may take to start the command. Default EXEC_START_TIMEOUT_MS (30 s). */
  startTimeoutMs?: number;
}

export function startExec(
  session: ClientHttp2Session,
  protocolVersion: number,
  request: ExecRequest,
  opts: ExecOptions,
  sendSignal: (execId: string, sig: string) => Promise<void>,
): ExecHandle {
  const req: ExecRequest = { ...request, stdin: request.stdin || opts.stdin !== undefined };
  // Small requests travel in a header; a big one (large env) at the start of the body.
  const encoded = encodeExecRequest(req);
  const inBody = encoded.length > MAX_EXEC_HEADER_BYTES ? Buffer.from(JSON.stringify(req), 'utf8') : undefined;
  const open = () => {
    if (!inBody) return openStream(session, 'exec', protocolVersion, { [HEADERS.exec]: encoded }, !req.stdin);
    const stream = openStream(session, 'exec', protocolVersion, { [HEADERS.execLength]: String(inBody.length) }, false);
    stream.write(inBody);
    if (!req.stdin) stream.end();
    return stream;
  };
  return execStreamHandle(session, open, {
    route: 'exec',
    ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    exposeStdin: req.stdin && !opts.stdin,
    sendSignal,
  });
}
