// A raw TCP listener on the host for one exposed guest port, so every exposed port has a stable
// address across pause/stop/restart. Each connection wakes the instance, then bytes pass untouched.
import net from 'node:net';
import { connectUpstream } from './connect-upstream.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { ConnectionAccounting } from './connection-accounting.js';
import type { InstanceDirectory, RouteTarget } from './instance-directory.js';
import { splice } from './splice.js';

export interface PortListenerOptions {
  /** Listen address; 127.0.0.1 unless told. */
  host?: string;
  /** Host port; 0 (the default) picks a free one. Pass the previous port to keep it stable. */
  port?: number;
  /** How long a connection waits for a waking instance before it is closed (default 30 s). */
  wakeTimeoutMs?: number;
  /** Connection caps shared with the router (the daemon's); default caps of its own otherwise. */
  limiter?: ConnectionLimiter;
}

export interface PortListener {
  port: number;
  close(): Promise<void>;
}

export async function listenPort(
  dir: InstanceDirectory,
  target: RouteTarget,
  guestPort: number,
  opts: PortListenerOptions = {},
): Promise<PortListener> {
  const accounting = new ConnectionAccounting(dir);
  const wakeTimeoutMs = opts.wakeTimeoutMs ?? 30_000;
  const sockets = new Set<net.Socket>();
  // Raw bytes: no Host to check and no request to time, so the connection caps are this listener's only guard.
  const limiter = opts.limiter ?? new ConnectionLimiter();
  // allowHalfOpen: a client that shuts down its sending side still gets the whole reply.
  const server = net.createServer({ allowHalfOpen: true, keepAlive: true }, (socket) => {
    if (!limiter.admit(socket)) return;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    accounting.attribute(socket, target.instance);
    accounting.activity(target.instance);
    const clientGone = new AbortController();
    socket.once('close', () => clientGone.abort(new Error('client went away')));
    // Bytes the client sends meanwhile wait in the socket (not flowing until splice pipes it).
    connectUpstream(dir, target, guestPort, clientGone.signal, wakeTimeoutMs).then(
      (upstream) => splice(socket, upstream, () => accounting.activity(target.instance)),
      () => socket.destroy(), // a raw stream has no way to say why; closing is the honest answer
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : (opts.port ?? 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
