// The HTTP router: picks the app per request, wakes its instance through the directory, and proxies
// HTTP/1.1 (streaming both ways, back-pressured) or raw upgraded streams (WebSocket) to the guest port.
// Plain requests to a running instance take the fast path (fast-path.ts: framed by hand, bytes relayed);
// everything else is node:http's, below. Requests reuse idle keep-alive upstreams (upstream-pool.ts) while
// the instance runs; otherwise a fresh connect() is the wake point, so a pooled stream is never parked on a
// paused guest.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectUpstream } from './connect-upstream.js';
import { ConnectionAccounting } from './connection-accounting.js';
import { requestHeaders, stripHopByHop } from './forward-headers.js';
import { WakeTimeoutError, type InstanceDirectory, type RouteTarget } from './instance-directory.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { HostGuard } from './host-guard.js';
import { badGatewayPage, badTargetPage, notFoundPage, rawResponse, redirectPage, refusedHostPage, startingPage, wantsHtml, type Page } from './pages.js';
import { pickTarget } from './pick-target.js';
import { splice } from './splice.js';
import { RETRYABLE_METHODS, UpstreamPool, upstreamAgent } from './upstream-pool.js';
import { FastPath } from './fast-path.js';

export interface RouterOptions {
  /** Listen address; 127.0.0.1 unless told. */
  host?: string;
  /** 8099 in the daemon, 0 (pick) in tests. */
  port: number;
  /** How long a request waits for a waking instance before a 503 (default 30 s). */
  wakeTimeoutMs?: number;
  /** Host names answered besides the loopback ones (router.hosts). */
  hosts?: string[];
  /** Request line and headers must arrive within this (default 5 s), else 408 and close. */
  headerTimeoutMs?: number;
  /** A whole request, body included, must arrive within this (default 10 min; 0: no limit). */
  requestTimeoutMs?: number;
  /** A connection with no bytes either way for this long is closed (default 5 min; 0: never). */
  idleTimeoutMs?: number;
  /** An idle pooled upstream (keep-alive connection to a guest server) is closed after this long (default 3 s). */
  upstreamIdleTimeoutMs?: number;
  /** Shared with the port listeners in the daemon; the router makes its own with the default caps otherwise. */
  limiter?: ConnectionLimiter;
}

export interface RunningRouter {
  port: number;
  url: string;
  close(): Promise<void>;
}

const DEFAULT_WAKE_TIMEOUT_MS = 30_000;
const DEFAULT_HEADER_TIMEOUT_MS = 5_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

function send(res: http.ServerResponse, p: Page): void {
  res.writeHead(p.status, { ...p.headers, 'content-length': Buffer.byteLength(p.body) });
  res.end(p.body);
}

function failurePage(target: RouteTarget, err: unknown, html: boolean): Page {
  return err instanceof WakeTimeoutError ? startingPage(target, err.retryAfterSeconds, html) : badGatewayPage(target, err);
}

export async function startRouter(dir: InstanceDirectory, opts: RouterOptions): Promise<RunningRouter> {
  const host = opts.host ?? '127.0.0.1';
  const wakeTimeoutMs = opts.wakeTimeoutMs ?? DEFAULT_WAKE_TIMEOUT_MS;
  const accounting = new ConnectionAccounting(dir);
  // The address it listens on is a name no DNS owner controls either (for a router on a LAN address).
  const guard = new HostGuard([...(opts.hosts ?? []), host.includes(':') ? `[${host}]` : host]);
  const limiter = opts.limiter ?? new ConnectionLimiter();
  const pool = new UpstreamPool({ idleTimeoutMs: opts.upstreamIdleTimeoutMs });
  // Upgraded sockets leave the HTTP server's bookkeeping; close() must still end them.
  const hijacked = new Set<Duplex>();
  let port = opts.port;

  // Slowloris guards: a client gets headerTimeout for its headers and requestTimeout for a whole request
  // (long, for big uploads). Node checks both every connectionsCheckingInterval, so that is kept short.
  const headerTimeoutMs = opts.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const server = http.createServer({
    keepAlive: true,
    // Node refuses a header timeout longer than a (non-zero) request timeout.
    headersTimeout: requestTimeoutMs > 0 ? Math.min(headerTimeoutMs, requestTimeoutMs) : headerTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headerTimeoutMs / 4))),
  });
  // Short: an idle keep-alive socket counts as an open connection, which keeps its instance from pausing.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // No bytes either way for this long: the socket is destroyed (a streaming response that still sends is not idle).
  server.timeout = idleTimeoutMs;

  // Every connection starts on the fast path; node:http's own connection listener takes the ones it hands over.
  const nodeConnection = server.listeners('connection')[0] as (socket: Socket) => void;
  server.removeAllListeners('connection');
  const fast = new FastPath({
    dir,
    guard,
    pool,
    accounting,
    wakeTimeoutMs,
    headerTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
    idleTimeoutMs,
    upstreamIdleTimeoutMs: pool.idleTimeoutMs,
    handoff: (socket) => nodeConnection.call(server, socket),
  });
  // A refused socket is closed before it is read from.
  server.on('connection', (socket: Socket) => {
    if (limiter.admit(socket)) fast.accept(socket);
  });

  server.on('request', (req, res) => {
    void handleRequest(req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(req, socket, head);
  });

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const hostCheck = guard.check(req.rawHeaders);
    if (hostCheck !== 'allowed') {
      res.shouldKeepAlive = false; // nothing more from a client that came by a name we do not answer
      return send(res, refusedHostPage(hostCheck, req.headers.host));
    }
    const html = wantsHtml(req.headers);
    const decision = pickTarget(dir, req.url ?? '/', req.headers);
    if (decision.kind === 'not-found') return send(res, notFoundPage(decision.wanted, html, port));
    if (decision.kind === 'redirect') return send(res, redirectPage(decision.location));
    if (decision.kind === 'bad-target') {
      res.shouldKeepAlive = false;
      return send(res, badTargetPage());
    }
    const { target } = decision;
    accounting.attribute(req.socket, target.instance);
    accounting.activity(target.instance);

    const chunked = req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined;
    const hasBody = chunked || Number(req.headers['content-length'] ?? 0) > 0;
    const exchange: Exchange = { target, path: decision.path, prefix: decision.prefix, chunked, hasBody };
    const pooled = dir.running(target.instance) ? pool.take(target.instance, target.port) : undefined;
    if (!pooled) return connectThenForward(req, res, exchange, html);
    // The guest may have closed the idle connection just as it was taken: a request that can be sent again goes
    // once more on a fresh connection.
    const retry = !hasBody && RETRYABLE_METHODS.has(req.method ?? '') ? () => void connectThenForward(req, res, exchange, html) : undefined;
    forward(req, res, pooled, exchange, retry);
  }

  /** Opens a fresh upstream (waking the instance) and forwards over it; a failure gets its page. */
  async function connectThenForward(req: http.IncomingMessage, res: http.ServerResponse, ex: Exchange, html: boolean): Promise<void> {
    const clientGone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) clientGone.abort(new Error('client went away'));
    };
    res.once('close', onClose);
    let upstream: Duplex;
    try {
      upstream = await connectUpstream(dir, ex.target, ex.target.port, clientGone.signal, wakeTimeoutMs);
    } catch (err) {
      if (!res.destroyed && !res.headersSent) send(res, failurePage(ex.target, err, html));
      return;
    } finally {
      res.off('close', onClose);
    }
    forward(req, res, upstream, ex, undefined);
  }

  interface Exchange {
    target: RouteTarget;
    /** What the guest sees, and the stripped `/app/<name>` prefix ('' when none). */
    path: string;
    prefix: string;
    /** The client sent a body of unknown length (re-chunked on the guest hop). */
    chunked: boolean;
    hasBody: boolean;
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, upstream: Duplex, ex: Exchange, retry: (() => void) | undefined): void {
    const { target } = ex;
    const headers = requestHeaders(req.rawHeaders, { clientAddress: req.socket.remoteAddress, prefix: ex.prefix, upgrade: false });
    // The client's framing was hop-by-hop; a body of unknown length is re-chunked on the guest hop.
    if (ex.chunked) headers.push('Transfer-Encoding', 'chunked');
    pool.adopt(target.instance, target.port, upstream);
    let upReq: http.ClientRequest;
    try {
      upReq = http.request({ method: req.method, path: ex.path, headers, setHost: false, agent: upstreamAgent, upstream } as http.RequestOptions);
    } catch (err) {
      upstream.destroy();
      return send(res, badGatewayPage(target, err));
    }
    const onData = (): void => accounting.activity(target.instance);
    let responded = false;

    upReq.on('response', (upRes) => {
      responded = true;
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, stripHopByHop(upRes.rawHeaders));
      let bodyStarted = false;
      upRes.on('data', () => {
        bodyStarted = true;
        onData();
      });
      // pipe, not pipeline: the same back-pressure without pipeline's per-call AbortController and its
      // DOMException, which the profile showed on every request. A guest gone mid-body ends the client's
      // connection: a truncated body is all the client can be told.
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
      upRes.on('aborted', () => res.destroy());
      // Event streams: the client sees the headers before the first event. A body already here goes out in
      // the same write as the headers (the pipe starts flowing on the tick before this one).
      process.nextTick(() => {
        if (!bodyStarted && !res.writableEnded) res.flushHeaders();
      });
    });
    upReq.on('error', (err) => {
      if (!responded && retry && !res.destroyed) return retry();
      if (!res.headersSent && !res.destroyed) {
        const p = badGatewayPage(target, err);
        // The request body may still be unread: close instead of keeping a half-read connection alive.
        res.shouldKeepAlive = false;
        send(res, p);
      } else res.destroy();
    });
    // Client gone before the exchange completed: the guest need not keep working for nobody.
    res.once('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });

    // Plain pipe (not pipeline): an early guest response must not tear down the client's keep-alive socket.
    req.pipe(upReq);
    req.on('data', onData);
    req.on('error', () => upReq.destroy());
    if (ex.hasBody) upReq.flushHeaders(); // the guest sees a slow upload's request line at once
  }

  function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    hijacked.add(socket);
    socket.on('close', () => hijacked.delete(socket));
    socket.on('error', () => socket.destroy());
    // The HTTP server no longer times this socket out: an upgraded stream gets the same idle limit here.
    if (idleTimeoutMs > 0) (socket as Socket).setTimeout(idleTimeoutMs, () => socket.destroy());
    const hostCheck = guard.check(req.rawHeaders);
    if (hostCheck !== 'allowed') return void socket.end(rawResponse(refusedHostPage(hostCheck, req.headers.host)));
    const html = wantsHtml(req.headers);
    const decision = pickTarget(dir, req.url ?? '/', req.headers);
    if (decision.kind === 'not-found') return void socket.end(rawResponse(notFoundPage(decision.wanted, html, port)));
    if (decision.kind === 'redirect') return void socket.end(rawResponse(redirectPage(decision.location)));
    if (decision.kind === 'bad-target') return void socket.end(rawResponse(badTargetPage()));
    const { target } = decision;
    accounting.attribute(socket, target.instance);
    accounting.activity(target.instance);

    const clientGone = new AbortController();
    socket.once('close', () => clientGone.abort(new Error('client went away')));
    connectUpstream(dir, target, target.port, clientGone.signal, wakeTimeoutMs).then(
      (upstream) => {
        const headers = requestHeaders(req.rawHeaders, { clientAddress: req.socket.remoteAddress, prefix: decision.prefix, upgrade: true });
        let text = `${req.method} ${decision.path} HTTP/1.1\r\n`;
        for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
        upstream.write(text + '\r\n');
        if (head.length > 0) upstream.write(head);
        splice(socket, upstream, () => accounting.activity(target.instance));
      },
      (err: unknown) => {
        if (!socket.destroyed) socket.end(rawResponse(failurePage(target, err, html)));
      },
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : opts.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    port,
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        fast.close();
        for (const s of hijacked) s.destroy();
        pool.close();
      }),
  };
}
