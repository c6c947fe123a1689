// POST forward: a bidirectional byte stream to guest TCP 127.0.0.1:PORT (how the router reaches localhost servers).
import net from 'node:net';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { HEADERS } from '../protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/version.js';
import type { HarnessContext } from './context.js';
import { isOpen, sendError } from './respond.js';

export function parsePort(value: unknown): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

export function handleForward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _ctx: HarnessContext): void {
  const port = parsePort(headers[HEADERS.port]);
  if (port === undefined) return sendError(stream, 400, 'BAD_REQUEST', `${HEADERS.port} must be a TCP port (1-65535)`);
  stream.pause(); // hold the client's first bytes until the guest socket exists
  const socket = net.connect({ host: '127.0.0.1', port });
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    if (!isOpen(stream)) return void socket.destroy();
    socket.setNoDelay(true);
    stream.respond({ ':status': 200, [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) });
    // pipe() carries back-pressure both ways and half-closes: the end of one side ends the other.
    stream.pipe(socket);
    socket.pipe(stream);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) {
      const reason = err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message);
      return sendError(stream, 502, 'FORWARD_REFUSED', `cannot connect to 127.0.0.1:${port} in the machine: ${reason}`);
    }
    if (isOpen(stream)) stream.close(0x2 /* INTERNAL_ERROR */);
  });
  socket.on('close', () => {
    // Guest side fully closed without a clean end (reset): reset the stream too.
    if (connected && isOpen(stream) && !stream.writableEnded) stream.close(0x8 /* CANCEL */);
  });
  stream.on('close', () => socket.destroy());
}
