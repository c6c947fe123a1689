// Test doubles for the router: an InstanceDirectory over real local servers, where connect() can be
// delayed (a wake), fail, or time out, plus the guest-side servers the tests route to.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { WakeTimeoutError, type InstanceDirectory, type RouteTarget } from '../../src/router/instance-directory.js';

/** A Duplex that is not a net.Socket, like the control channel's forwarded streams. */
class Relay extends Duplex {
  constructor(private readonly sock: net.Socket) {
    super({ allowHalfOpen: true });
    sock.on('data', (d: Buffer) => {
      if (!this.push(d)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => {
      if (!this.destroyed && !this.readableEnded) this.destroy();
    });
  }
  override _read(): void {
    this.sock.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sock.write(chunk, cb);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.sock.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }
}

export interface FakeApp {
  target: RouteTarget;
  /** Real host port per guest port. */
  ports: Map<number, number>;
  /** Simulated wake time before the stream opens. */
  delayMs?: number;
  /** connect() rejects with this. */
  fail?: Error;
}

export class FakeDirectory implements InstanceDirectory {
  readonly apps = new Map<string, FakeApp>();
  readonly opened = new Map<string, number>();
  readonly closed = new Map<string, number>();
  readonly activities = new Map<string, number>();
  readonly connects: { instance: string; port: number }[] = [];

  add(app: string, ports: Record<number, number>, extra: Partial<FakeApp> = {}): FakeApp {
    const guestPorts = Object.keys(ports).map(Number);
    const entry: FakeApp = { target: { instance: `i-${app}`, app, port: guestPorts[0] }, ports: new Map(Object.entries(ports).map(([g, h]) => [Number(g), h])), ...extra };
    this.apps.set(app, entry);
    return entry;
  }

  served(): RouteTarget[] {
    return [...this.apps.values()].map((a) => a.target);
  }

  byApp(nameOrId: string): RouteTarget | undefined {
    for (const a of this.apps.values()) if (a.target.app === nameOrId || a.target.instance === nameOrId) return a.target;
    return undefined;
  }

  async connect(target: RouteTarget, port: number, signal: AbortSignal): Promise<Duplex> {
    this.connects.push({ instance: target.instance, port });
    const app = this.apps.get(target.app);
    if (!app) throw new Error(`no such app ${target.app}`);
    if (app.delayMs) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, app.delayMs);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(signal.reason);
        });
      });
    }
    if (app.fail) throw app.fail;
    const hostPort = app.ports.get(port);
    if (hostPort === undefined) throw new Error(`port ${port} not exposed`);
    const sock = net.connect(hostPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return new Relay(sock);
  }

  /** Instances a test marks as not running (paused): the router must connect, never reuse, for them. */
  readonly asleep = new Set<string>();
  running(instance: string): boolean {
    return !this.asleep.has(instance);
  }

  connectionOpened(instance: string): void {
    this.opened.set(instance, (this.opened.get(instance) ?? 0) + 1);
  }
  connectionClosed(instance: string): void {
    this.closed.set(instance, (this.closed.get(instance) ?? 0) + 1);
  }
  activity(instance: string): void {
    this.activities.set(instance, (this.activities.get(instance) ?? 0) + 1);
  }
}

export { WakeTimeoutError };

export interface GuestServer {
  port: number;
  /** Released by the test to let /stream send its second chunk. */
  release(): void;
  /** Open TCP connections to the guest right now. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A guest HTTP server named `name`: /echo answers what it received, /upload hashes the body,
 * /stream sends one chunk then waits for release(); Upgrade requests get a 101 and a raw echo.
 */
export async function startGuest(name: string): Promise<GuestServer> {
  let release: () => void = () => {};
  const gate = (): Promise<void> => new Promise((r) => (release = r));
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/upload')) {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (d: Buffer) => {
        hash.update(d);
        bytes += d.length;
      });
      req.on('end', () => res.end(JSON.stringify({ app: name, bytes, sha256: hash.digest('hex') })));
      return;
    }
    if (req.url?.startsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      void gate().then(() => res.end('data: second\n\n'));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ app: name, method: req.method, url: req.url, headers: req.headers }));
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Guest: ${name}\r\n\r\n`);
    if (head.length) socket.write(head);
    // Once upgraded the socket is no longer http's: a reset by the router (its idle cut) must not go uncaught.
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  let open = 0;
  server.on('connection', (s: net.Socket) => {
    open++;
    s.on('close', () => open--);
  });
  return {
    port,
    release: () => release(),
    connections: () => open,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A TCP server that answers every chunk with `<name>:` + the chunk. */
export async function startTcpEcho(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => s.write(`${name}:${d.toString()}`));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}
