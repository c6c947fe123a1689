// Idle keep-alive connections to guest servers, per instance and guest port: a request reuses a forward
// stream (and the guest TCP connection behind it) instead of opening both anew. Node's HTTP client frees a
// stream for reuse by emitting 'free' once a keep-alive exchange completed; the pool takes it from there.
// A stream parked here is never used to wake a guest: the router takes one only while the instance runs
// (a fresh connect() stays the wake point), and a stream whose guest side closed is dropped at once.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface UpstreamPoolOptions {
  /** Idle streams kept per instance and port; more are closed when freed. */
  maxIdlePerTarget?: number;
  /** An idle stream is closed after this long: below the usual 5 s keep-alive timeout of servers, so the guest rarely closes one under us. */
  idleTimeoutMs?: number;
}

interface Idle {
  stream: Duplex;
  since: number;
  drop: () => void;
}

const noop = (): void => undefined;

/** Methods a reused upstream that the guest closed under us may send again on a fresh one (RFC 9110 §9.2.2). */
export const RETRYABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * An http.Agent that hands each request the stream the router chose for it (`upstream` in the request
 * options) instead of keeping a pool of its own, and asks for keep-alive so Node emits 'free' on it.
 */
class ChosenStreamAgent extends http.Agent {
  constructor() {
    super({ keepAlive: true });
  }
  addRequest(req: http.ClientRequest, options: { upstream: Duplex }): void {
    req.onSocket(options.upstream as Socket);
  }
}

/** The agent for requests sent over a pooled (or fresh) upstream: `http.request({ agent: upstreamAgent, upstream })`. */
export const upstreamAgent: http.Agent = new ChosenStreamAgent();

export class UpstreamPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly adopted = new WeakSet<Duplex>();
  private readonly guarded = new WeakSet<Duplex>();
  private readonly maxIdle: number;
  /** How long a stream may sit idle before it is closed (the fast path applies it to the stream it pins too). */
  readonly idleTimeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: UpstreamPoolOptions = {}) {
    this.maxIdle = opts.maxIdlePerTarget ?? 128;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 3_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.floor(this.idleTimeoutMs / 3)));
    this.sweeper.unref();
  }

  /** The most recently freed idle stream to `instance`:`port` (the warmest), if any. */
  take(instance: string, port: number): Duplex | undefined {
    const list = this.idle.get(key(instance, port));
    for (let entry = list?.pop(); entry; entry = list?.pop()) {
      entry.drop();
      if (!entry.stream.destroyed) return entry.stream;
    }
    return undefined;
  }

  /**
   * Lets the pool keep `stream` once the HTTP exchange on it completed with keep-alive. Called once per
   * stream, before its first request.
   */
  adopt(instance: string, port: number, stream: Duplex): void {
    if (this.adopted.has(stream)) return;
    this.adopted.add(stream);
    this.guard(stream);
    stream.on('free', () => this.park(key(instance, port), stream));
  }

  /**
   * Parks `stream`, idle after a complete exchange the caller framed itself (the router's fast path), for the
   * next request to `instance`:`port`. The caller has removed its own listeners.
   */
  release(instance: string, port: number, stream: Duplex): void {
    this.guard(stream);
    this.park(key(instance, port), stream);
    // Node's HTTP client, which may take it next, reads it only if it flows.
    stream.resume();
  }

  /** Closes every idle stream (the router closes). */
  close(): void {
    clearInterval(this.sweeper);
    for (const list of this.idle.values()) for (const entry of list.splice(0)) entry.stream.destroy();
    this.idle.clear();
  }

  // Between the end of an exchange and 'free' Node's client leaves the stream without an error listener; so
  // does the fast path between its exchanges.
  private guard(stream: Duplex): void {
    if (this.guarded.has(stream)) return;
    this.guarded.add(stream);
    stream.on('error', noop);
  }

  private park(k: string, stream: Duplex): void {
    if (stream.destroyed || !stream.writable || stream.readableEnded) return void stream.destroy();
    let list = this.idle.get(k);
    if (!list) this.idle.set(k, (list = []));
    if (list.length >= this.maxIdle) return void stream.destroy();
    // While idle, anything from the guest (bytes nobody asked for, its end, an error) retires the stream.
    const retire = (): void => {
      drop();
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
      stream.destroy();
    };
    const drop = (): void => {
      stream.off('data', retire);
      stream.off('end', retire);
      stream.off('close', retire);
    };
    const entry: Idle = { stream, since: Date.now(), drop };
    stream.on('data', retire);
    stream.on('end', retire);
    stream.on('close', retire);
    list.push(entry);
  }

  private sweep(): void {
    const oldest = Date.now() - this.idleTimeoutMs;
    for (const [k, list] of this.idle) {
      // Oldest first: parked in order, so the stale ones lead the list.
      let stale = 0;
      while (stale < list.length && list[stale].since <= oldest) stale++;
      for (const entry of list.splice(0, stale)) {
        entry.drop();
        entry.stream.destroy();
      }
      if (list.length === 0) this.idle.delete(k);
    }
  }
}

const key = (instance: string, port: number): string => `${instance}:${port}`;
