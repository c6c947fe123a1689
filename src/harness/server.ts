// The control server: accepts byte streams, runs an HTTP/2 server session on each, routes streams.
import fs from 'node:fs';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { ROUTE_METHODS, ROUTES, type RouteName } from '../protocol/routes.js';
import { isCompatibleVersion, parseProtocolVersion, PROTOCOL_HEADER, PROTOCOL_VERSION, versionMismatchMessage } from '../protocol/version.js';
import { handleAttach } from './attach.js';
import type { HarnessContext, RouteHandler } from './context.js';
import { handleExec } from './exec.js';
import { handleFiles } from './files/route.js';
import { handleForward } from './forward.js';
import { handleHealth } from './health.js';
import { log } from './log.js';
import { sendError } from './respond.js';
import { handleShutdown } from './shutdown.js';
import { handleClock } from './clock.js';
import { handleSignal } from './signal.js';

/** Flow-control window per stream: how much one slow reader may leave in flight before its writer pauses. */
export const STREAM_WINDOW_BYTES = 1024 * 1024;
// The connection-level window stays at the HTTP/2 default (64 KiB) on purpose. Node returns
// connection credit as soon as bytes arrive (stream credit only when the stream is read), so it does
// not cause head-of-line blocking, and it bounds what is in flight on the byte stream. With large
// connection windows on both sides, a forward that uploads and downloads at once stalled for good:
// both sessions had more queued for the socket than it buffers, and neither read any more.

const HANDLERS: Record<RouteName, RouteHandler> = {
  health: handleHealth,
  exec: handleExec,
  signal: handleSignal,
  shutdown: handleShutdown,
  clock: handleClock,
  forward: handleForward,
  attach: handleAttach,
  files: handleFiles,
};

const BY_PATH = new Map<string, RouteName>(Object.entries(ROUTES).map(([name, p]) => [p, name as RouteName]));

export class ControlServer {
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private listener: net.Server | undefined;

  constructor(private readonly ctx: HarnessContext) {
    this.h2 = http2.createServer({
      settings: { initialWindowSize: STREAM_WINDOW_BYTES, maxConcurrentStreams: 10_000 },
      maxSessionMemory: 64,
    });
    this.h2.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('error', () => {});
      session.once('close', () => this.sessions.delete(session));
    });
    this.h2.on('sessionError', () => {});
    this.h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.route(stream, headers));
  }

  /** Serves one accepted byte stream (a unix socket connection now; a virtio-serial port later). */
  accept(socket: Duplex): void {
    socket.on('error', () => {});
    this.h2.emit('connection', socket);
  }

  /** Listens on a unix socket, replacing a stale socket file left by an earlier run. */
  listen(socketPath: string): Promise<void> {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    fs.rmSync(socketPath, { force: true });
    const listener = net.createServer((socket) => this.accept(socket));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(socketPath, () => {
        listener.off('error', reject);
        listener.on('error', (err) => log(`control socket error: ${err.message}`));
        resolve();
      });
    });
  }

  /** Stops accepting and drops every session. */
  close(): void {
    this.listener?.close();
    for (const session of this.sessions) session.destroy();
  }

  private route(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const version = parseProtocolVersion(headers[PROTOCOL_HEADER]);
    if (!isCompatibleVersion(PROTOCOL_VERSION, version)) {
      stream.resume();
      return sendError(stream, 400, 'PROTOCOL_MISMATCH', versionMismatchMessage(version, PROTOCOL_VERSION));
    }
    const name = BY_PATH.get(String(headers[':path']).split('?')[0]);
    if (!name) {
      stream.resume();
      return sendError(stream, 404, 'NOT_FOUND', `no route ${headers[':path']}`);
    }
    if (headers[':method'] !== ROUTE_METHODS[name]) {
      stream.resume();
      return sendError(stream, 405, 'METHOD_NOT_ALLOWED', `${name} takes ${ROUTE_METHODS[name]}`);
    }
    Promise.resolve()
      .then(() => HANDLERS[name](stream, headers, this.ctx))
      .catch((err: Error) => {
        log(`${name} failed: ${err.stack ?? err.message}`);
        sendError(stream, 500, 'INTERNAL', `${name} failed: ${err.message}`);
      });
  }
}
