// The router's fast path: plain HTTP/1.1 requests to a running instance are framed by hand and their bytes
// relayed, so the common request costs little more than the port listener's splice (node:http's parse, a
// ClientRequest and a second parse of the reply cost ~100 µs per request). One request is in flight per
// client connection (pipelined ones wait in `pending`; responses come back in order anyway), over an upstream
// pinned to the connection while its requests go to the same instance and port.
//
// Anything else (a head this path does not accept, a page the router answers itself, a paused instance to
// wake) goes to node:http for the rest of the connection, at a request boundary with nothing in flight: the
// bytes not yet parsed are put back on the socket and node's server takes it from there.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectUpstream } from './connect-upstream.js';
import type { ConnectionAccounting } from './connection-accounting.js';
import { requestHeaders } from './forward-headers.js';
import type { HostGuard } from './host-guard.js';
import { ChunkedError, ChunkedScanner } from './http1-chunked.js';
import { parseRequestHead, type RequestHead } from './http1-request-head.js';
import { ResponseError, ResponseFramer } from './http1-response-framing.js';
import { WakeTimeoutError, type InstanceDirectory, type RouteTarget } from './instance-directory.js';
import { badGatewayPage, rawResponse, startingPage, wantsHtml, type Page } from './pages.js';
import { pickTarget } from './pick-target.js';
import { RETRYABLE_METHODS, type UpstreamPool } from './upstream-pool.js';

export interface FastPathOptions {
  dir: InstanceDirectory;
  guard: HostGuard;
  pool: UpstreamPool;
  accounting: ConnectionAccounting;
  wakeTimeoutMs: number;
  headerTimeoutMs: number;
  /** 0: no limit. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0: never. */
  idleTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
  /** Gives the socket to node:http (the router's slow path), with any unparsed bytes already put back. */
  handoff(socket: Socket): void;
}


/** Client bytes kept while they wait; beyond this the client is not read until they are handled. */
const MAX_HELD_BYTES = 64 * 1024;
/** Pieces of one guest chunk up to this size are joined into one write. */
const MAX_JOINED_BYTES = 16 * 1024;

const REQUEST_TIMEOUT = Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');

export class FastPath {
  private readonly connections = new Set<FastConnection>();
  private readonly checker: NodeJS.Timeout;

  constructor(private readonly opts: FastPathOptions) {
    // Deadlines are checked by one timer over all connections, as node:http does, rather than a timer per request.
    const every = Math.max(100, Math.min(1_000, Math.floor(opts.headerTimeoutMs / 4)));
    this.checker = setInterval(() => this.check(), every);
    this.checker.unref();
  }

  /** Takes an admitted client connection. */
  accept(socket: Socket): void {
    const conn = new FastConnection(socket, this.opts, () => this.connections.delete(conn));
    this.connections.add(conn);
  }

  /** Ends every connection still on the fast path (the router closes). */
  close(): void {
    clearInterval(this.checker);
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private check(): void {
    const now = Date.now();
    for (const c of this.connections) c.checkDeadlines(now);
  }
}

const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** Waiting for an upstream to open. */
  Connecting,
  /** A request was sent (its body may still be coming) and its response is not complete. */
  Exchange,
  Done,
}

class FastConnection {
  private phase = Phase.Head;
  /** Client bytes received and not yet handled (a partial head, or pipelined requests). */
  private pending: Buffer | undefined;
  private readonly clientAddress: string | undefined;
  /** When the current head started (or the connection opened), and when the connection went idle. */
  private headSince: number;
  private idleSince = 0;
  /** Last bytes from the client or the guest (a checked timestamp costs less than a socket timer refreshed per read and write). */
  private lastActive: number;
  private firstRequest = true;

  // The pinned upstream.
  private upstream: Duplex | undefined;
  private upstreamTarget: RouteTarget | undefined;
  /** It carried an exchange before this one (a guest may have closed it meanwhile: retry material). */
  private upstreamReused = false;
  private upstreamIdleSince = 0;
  /** The guest sent bytes past the end of a response: it cannot be trusted with another exchange. */
  private upstreamSpoiled = false;

  // The exchange in flight.
  private head: RequestHead | undefined;
  private target: RouteTarget | undefined;
  private upstreamHead: Buffer | undefined;
  private bodyLeft = 0;
  private chunked: ChunkedScanner | undefined;
  private bodyDone = false;
  private framer: ResponseFramer | undefined;
  private responseDone = false;
  private requestSince = 0;
  private retried = false;
  /** The client is not read until the upstream drains (its writes returned false). */
  private heldBack = false;

  constructor(
    private readonly socket: Socket,
    private readonly opts: FastPathOptions,
    private readonly forget: () => void,
  ) {
    this.clientAddress = socket.remoteAddress;
    this.headSince = this.lastActive = Date.now();
    socket.on('data', this.onClientData);
    socket.on('end', this.onClientEnd);
    socket.on('close', this.onClientClose);
    socket.on('error', this.onClientError);
    socket.on('drain', this.onClientDrain);
  }

  destroy(): void {
    this.phase = Phase.Done;
    this.socket.destroy();
    this.dropUpstream();
  }

  checkDeadlines(now: number): void {
    // No bytes either way for the idle timeout (bytes to the client follow bytes from the guest).
    if (this.opts.idleTimeoutMs > 0 && now - this.lastActive > this.opts.idleTimeoutMs) return this.destroy();
    if (this.phase === Phase.Head) {
      if (this.pending || this.firstRequest) {
        // A head must arrive whole within the header timeout (slowloris).
        if (now - this.headSince > this.opts.headerTimeoutMs) this.refuse(REQUEST_TIMEOUT);
      } else if (now - this.idleSince > this.opts.keepAliveTimeoutMs) this.destroy();
    } else if (this.phase === Phase.Exchange && !this.bodyDone && this.opts.requestTimeoutMs > 0 && now - this.requestSince > this.opts.requestTimeoutMs) {
      // A body that trickles past the request timeout.
      if (this.framer?.started) this.destroy();
      else this.refuse(REQUEST_TIMEOUT);
    }
  }

  // ---- client side ----

  // Whatever goes wrong in here ends this connection, never the daemon (the handlers run on socket events).
  private readonly onClientData = (chunk: Buffer): void => {
    try {
      this.clientData(chunk);
    } catch {
      this.destroy();
    }
  };

  private clientData(chunk: Buffer): void {
    this.lastActive = Date.now();
    if (this.phase === Phase.Exchange && !this.bodyDone) return this.forwardBody(chunk);
    if (this.phase === Phase.Done) return;
    if (this.pending) this.pending = Buffer.concat([this.pending, chunk]);
    else {
      this.pending = chunk;
      if (this.phase === Phase.Head && !this.firstRequest) this.headSince = Date.now();
    }
    if (this.phase === Phase.Head) this.nextRequest();
    else this.holdPending();
  }

  /**
   * Bytes that wait (a pipelined request, a body while the upstream opens) are kept up to a bound, then the
   * client is no longer read. Reading on below it is how a client that goes away is noticed (a paused socket
   * does not see its peer close).
   */
  private holdPending(): void {
    if (this.pending && this.pending.length > MAX_HELD_BYTES) this.socket.pause();
  }

  // A client that shuts down its side is taken as gone, in flight or not, as node:http (without
  // httpAllowHalfOpen) takes it: whatever was in flight to the guest is dropped.
  private readonly onClientEnd = (): void => {
    if (this.phase === Phase.Head) this.releaseUpstream();
    else this.dropUpstream();
    this.phase = Phase.Done;
    this.socket.destroySoon();
  };

  private readonly onClientClose = (): void => {
    // Gone mid-exchange: the guest need not keep working for nobody, and the upstream is mid-message.
    if (this.phase === Phase.Head) this.releaseUpstream();
    else this.dropUpstream();
    this.phase = Phase.Done;
    this.forget();
  };

  private readonly onClientError = (): void => this.destroy();

  // The upstream paused while the client could not take more (it may be the next exchange's by now).
  private readonly onClientDrain = (): void => {
    this.upstream?.resume();
  };

  /** Handles the next request in `pending`, if its head is all there. */
  private nextRequest(): void {
    const buf = this.pending;
    if (!buf) return;
    const parsed = parseRequestHead(buf);
    if (parsed.kind === 'incomplete') return;
    if (parsed.kind === 'handoff') return this.handoff();
    const head = parsed.head;
    const { dir, guard } = this.opts;
    if (guard.check(head.host === undefined ? [] : ['host', head.host]) !== 'allowed') return this.handoff();
    const decision = pickTarget(dir, head.target, { host: head.host, 'x-aegis-app': head.appHeader });
    // Pages (404, redirects, 400) and wakes are node:http's.
    if (decision.kind !== 'forward' || !dir.running(decision.target.instance)) return this.handoff();
    const { target } = decision;

    this.firstRequest = false;
    this.pending = head.end < buf.length ? buf.subarray(head.end) : undefined;
    this.head = head;
    this.target = target;
    this.bodyDone = head.body.kind === 'none';
    this.bodyLeft = head.body.kind === 'length' ? head.body.length : 0;
    this.chunked = head.body.kind === 'chunked' ? new ChunkedScanner() : undefined;
    this.framer = new ResponseFramer(head.method === 'HEAD');
    this.responseDone = false;
    this.retried = false;
    this.requestSince = Date.now();
    this.opts.accounting.attribute(this.socket, target.instance);
    this.opts.accounting.activity(target.instance);

    let text = `${head.method} ${decision.path} HTTP/1.1\r\n`;
    const headers = requestHeaders(head.rawHeaders, { clientAddress: this.clientAddress, prefix: decision.prefix, upgrade: false });
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    // The body goes on framed as it came (the scanner has checked that framing); Transfer-Encoding was stripped as hop-by-hop.
    if (head.body.kind === 'chunked') text += 'Transfer-Encoding: chunked\r\n';
    this.upstreamHead = Buffer.from(text + '\r\n', 'latin1');

    if (this.upstream && (this.upstreamTarget!.instance !== target.instance || this.upstreamTarget!.port !== target.port || Date.now() - this.upstreamIdleSince > this.opts.upstreamIdleTimeoutMs)) {
      // Another target, or idle long enough that the guest may be closing it: back to the pool (which drops stale ones).
      this.releaseUpstream();
    }
    if (!this.upstream) {
      const pooled = this.opts.pool.take(target.instance, target.port);
      if (pooled) this.pin(pooled, target, true);
    }
    if (this.upstream) return this.send();
    this.connect();
  }

  /** Opens a fresh upstream; what the client sends meanwhile waits in `pending`. */
  private connect(): void {
    const target = this.target!;
    this.phase = Phase.Connecting;
    this.holdPending();
    const gone = new AbortController();
    const onClose = (): void => gone.abort(new Error('client went away'));
    this.socket.once('close', onClose);
    connectUpstream(this.opts.dir, target, target.port, gone.signal, this.opts.wakeTimeoutMs).then(
      (stream) => {
        this.socket.off('close', onClose);
        if (this.phase !== Phase.Connecting) return void stream.destroy();
        this.pin(stream, target, false);
        this.send();
      },
      (err: unknown) => {
        this.socket.off('close', onClose);
        if (this.phase !== Phase.Connecting) return;
        this.failPage(err instanceof WakeTimeoutError ? startingPage(target, err.retryAfterSeconds, wantsHtml({ accept: this.head!.accept })) : badGatewayPage(target, err));
      },
    );
  }

  /** Writes the request head and whatever of the body already arrived; the rest follows as it comes. */
  private send(): void {
    this.phase = Phase.Exchange;
    const up = this.upstream!;
    up.write(this.upstreamHead);
    if (!this.bodyDone && this.pending) {
      const rest = this.pending;
      this.pending = undefined;
      this.forwardBody(rest);
    }
    if (this.phase === Phase.Exchange && !this.heldBack) this.socket.resume();
  }

  private forwardBody(chunk: Buffer): void {
    const up = this.upstream;
    if (!up) {
      // The guest answered early and then went away: the rest of this body has nowhere to go, and the next
      // request could only be found by reading it all. End once the answer is out.
      this.phase = Phase.Done;
      this.socket.destroySoon();
      return;
    }
    let end: number;
    if (this.chunked) {
      try {
        end = this.chunked.scan(chunk);
      } catch (err) {
        // Earlier chunks went on, nothing of this one does: the guest sees a cut request, never a second one.
        if (!(err instanceof ChunkedError)) throw err;
        return this.failRequest();
      }
    } else {
      end = chunk.length <= this.bodyLeft ? -1 : this.bodyLeft;
      this.bodyLeft -= end < 0 ? chunk.length : end;
      if (this.bodyLeft === 0 && end < 0) end = chunk.length;
    }
    this.opts.accounting.activity(this.target!.instance);
    const body = end < 0 || end === chunk.length ? chunk : chunk.subarray(0, end);
    const flowing = body.length === 0 || up.write(body);
    if (end < 0) {
      if (!flowing && !this.heldBack) {
        this.heldBack = true;
        this.socket.pause();
        up.once('drain', this.onUpstreamDrain);
      }
      return;
    }
    this.bodyDone = true;
    if (end < chunk.length) {
      this.pending = this.pending ? Buffer.concat([chunk.subarray(end), this.pending]) : chunk.subarray(end);
      this.holdPending();
    }
    if (this.responseDone) this.finishExchange();
  }

  private readonly onUpstreamDrain = (): void => {
    this.heldBack = false;
    if (this.phase === Phase.Exchange) this.socket.resume();
  };

  // ---- upstream side ----

  private pin(stream: Duplex, target: RouteTarget, reused: boolean): void {
    this.upstream = stream;
    this.upstreamTarget = target;
    this.upstreamReused = reused;
    this.upstreamSpoiled = false;
    stream.on('data', this.onUpstreamData);
    stream.on('end', this.onUpstreamEnd);
    stream.on('error', this.onUpstreamFailure);
    stream.on('close', this.onUpstreamFailure);
    stream.resume();
  }

  private unpin(): Duplex | undefined {
    const stream = this.upstream;
    if (!stream) return undefined;
    stream.off('data', this.onUpstreamData);
    stream.off('end', this.onUpstreamEnd);
    stream.off('error', this.onUpstreamFailure);
    stream.off('close', this.onUpstreamFailure);
    stream.off('drain', this.onUpstreamDrain);
    this.heldBack = false;
    this.upstream = undefined;
    return stream;
  }

  /** An idle, clean upstream goes back to the pool; anything else is closed. */
  private releaseUpstream(): void {
    const target = this.upstreamTarget;
    const stream = this.unpin();
    if (!stream) return;
    if (this.upstreamSpoiled || stream.destroyed || stream.readableEnded) stream.destroy();
    else this.opts.pool.release(target!.instance, target!.port, stream);
  }

  private dropUpstream(): void {
    this.unpin()?.destroy();
  }

  /** What one guest chunk produced for the client (a head and body bytes, usually). */
  private readonly out: Buffer[] = [];
  private readonly collect = (b: Buffer): void => {
    this.out.push(b);
  };

  /** Writes what the framer produced; a head and a small body go out as one buffer, in one write(2). */
  private flushClient(): void {
    const out = this.out;
    if (out.length === 0) return;
    let flowing: boolean;
    if (out.length === 1) flowing = this.socket.write(out[0]!);
    else {
      let total = 0;
      for (const b of out) total += b.length;
      if (total <= MAX_JOINED_BYTES) flowing = this.socket.write(Buffer.concat(out, total));
      else {
        this.socket.cork();
        for (const b of out) this.socket.write(b);
        flowing = !this.socket.writableNeedDrain;
        this.socket.uncork();
      }
    }
    out.length = 0;
    if (!flowing) this.upstream?.pause(); // resumed on the client's 'drain'
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    try {
      this.upstreamData(chunk);
    } catch {
      this.destroy();
    }
  };

  private upstreamData(chunk: Buffer): void {
    const framer = this.framer;
    if (this.phase !== Phase.Exchange || this.responseDone || !framer) {
      // Bytes nobody asked for: this upstream is out of step with its requests.
      this.dropUpstream();
      return;
    }
    this.lastActive = Date.now();
    this.opts.accounting.activity(this.target!.instance);
    let end: number;
    try {
      end = framer.feed(chunk, this.collect);
    } catch (err) {
      this.out.length = 0;
      if (!(err instanceof ResponseError)) throw err;
      if (framer.started) return this.destroy();
      return this.failPage(badGatewayPage(this.target!, err));
    }
    this.flushClient();
    if (end < 0) return;
    if (end < chunk.length) this.upstreamSpoiled = true;
    this.responseDone = true;
    if (this.bodyDone || !framer.reusable) this.finishExchange();
  }

  private readonly onUpstreamEnd = (): void => {
    const framer = this.framer;
    if (this.phase === Phase.Exchange && !this.responseDone && framer?.untilClose) {
      // A close-delimited response ends here (chunked for the client, whose connection goes on).
      this.out.push(framer.finish());
      this.flushClient();
      this.responseDone = true;
      this.finishExchange();
      return;
    }
    this.onUpstreamFailure(new Error('the guest closed the connection'));
  };

  private readonly onUpstreamFailure = (err?: unknown): void => {
    const inExchange = this.phase === Phase.Exchange && !this.responseDone;
    this.dropUpstream();
    if (!inExchange) return; // an idle pinned upstream: the next request takes another
    if (this.framer!.started) return this.destroy(); // a truncated response is all the client can be told
    // The guest may have closed a reused connection just as the request went: send it again, once, if that is safe.
    if (this.upstreamReused && !this.retried && this.head!.body.kind === 'none' && RETRYABLE_METHODS.has(this.head!.method)) {
      this.retried = true;
      this.connect();
      return;
    }
    const cause = err instanceof Error ? err : new Error('the guest closed the connection');
    this.failPage(badGatewayPage(this.target!, cause));
  };

  // ---- exchange boundaries ----

  private finishExchange(): void {
    const framer = this.framer!;
    this.framer = undefined;
    if (!framer.reusable || this.upstreamSpoiled) this.dropUpstream();
    // The client asked to close, or the guest ended the exchange before the request body did (its rest would
    // have to be read to find the next request): end after this response.
    if (this.head!.close || !this.bodyDone) {
      this.phase = Phase.Done;
      this.releaseUpstream();
      this.socket.destroySoon();
      return;
    }
    this.upstreamReused = true;
    this.upstreamIdleSince = Date.now();
    this.phase = Phase.Head;
    this.idleSince = this.upstreamIdleSince;
    this.headSince = this.upstreamIdleSince;
    this.socket.resume();
    if (this.pending) this.nextRequest();
  }

  /** Gives the connection to node:http at a request boundary; the unparsed bytes go back on the socket first. */
  private handoff(): void {
    const { socket } = this;
    this.phase = Phase.Done;
    socket.off('data', this.onClientData);
    socket.off('end', this.onClientEnd);
    socket.off('close', this.onClientClose);
    socket.off('error', this.onClientError);
    socket.off('drain', this.onClientDrain);
    this.releaseUpstream();
    this.forget();
    if (socket.readableEnded) return void socket.destroy(); // nothing can be put back once the stream ended
    if (this.pending) socket.unshift(this.pending);
    this.pending = undefined;
    this.opts.handoff(socket);
    socket.resume();
  }

  /** Answers with the router's own page (no response byte has gone out yet) and closes. */
  private failPage(p: Page): void {
    this.dropUpstream();
    this.phase = Phase.Done;
    this.socket.write(rawResponse(p));
    this.socket.destroySoon();
  }

  /** A request body that is not what its framing said: 400 if nothing was answered yet, and close. */
  private failRequest(): void {
    if (this.framer?.started) return this.destroy();
    this.refuse(BAD_REQUEST);
  }

  private refuse(response: Buffer): void {
    this.dropUpstream();
    this.phase = Phase.Done;
    this.socket.write(response);
    // Destroyed once written: a client that keeps its side open must not keep the socket.
    this.socket.destroySoon();
  }
}
