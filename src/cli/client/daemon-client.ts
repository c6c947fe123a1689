// HTTP/1.1 client for aegisd over its unix socket (node:http keeps CLI start-up fast: no extra modules to load).
import http from 'node:http';
import { Readable } from 'node:stream';

/** The daemon answered with an error: `message` is its one-line `error`, `reason` its code. */
export class DaemonError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly issues: { location?: string; path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

/** No daemon listens on the socket. */
export class DaemonNotRunningError extends Error {
  constructor(socket: string) {
    super(`aegisd is not running (no daemon at ${socket}); start it with: aegis up`);
    this.name = 'DaemonNotRunningError';
  }
}

/** The daemon went away in the middle of a request (it was stopped, or crashed): the outcome is unknown. */
export class DaemonConnectionLostError extends Error {
  constructor(method: string, path: string) {
    super(`the connection to aegisd was lost during ${method} ${path} (the daemon stopped or crashed; check with: aegis status)`);
    this.name = 'DaemonConnectionLostError';
  }
}

/** A reset socket or a response cut short, as Node's http client reports them. */
function isLostConnection(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || e?.message === 'aborted' || e?.message === 'socket hang up';
}

/** Runs fn, turning a dropped daemon connection into DaemonConnectionLostError. */
async function orLost<T>(method: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isLostConnection(err) ? new DaemonConnectionLostError(method, path) : err;
  }
}

export interface RequestOptions {
  body?: unknown;
  /** A raw request body streamed as is (e.g. stdin for `aegis exec -i`); set its content-type in headers. */
  stream?: Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class DaemonClient {
  constructor(readonly socketPath: string) {}

  async get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('GET', path, opts);
  }
  async post<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('POST', path, { ...opts, body });
  }
  async put<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('PUT', path, { ...opts, body });
  }
  async delete<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('DELETE', path, opts);
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    const text = await orLost(method, path, () => readAll(res));
    const body = text.length > 0 ? safeParse(text) : undefined;
    if ((res.statusCode ?? 500) >= 400) throw toDaemonError(res.statusCode ?? 500, body, text);
    return body as T;
  }

  /** Streams an NDJSON response, one parsed object per line, in order (GET unless `opts.method` says otherwise). */
  async *ndjson<T>(path: string, opts: RequestOptions & { method?: string } = {}): AsyncGenerator<T> {
    const method = opts.method ?? 'GET';
    const res = await this.raw(method, path, opts);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await orLost(method, path, () => readAll(res));
      throw toDaemonError(res.statusCode ?? 500, safeParse(text), text);
    }
    let buf = '';
    res.setEncoding('utf8');
    const chunks = (res as AsyncIterable<string>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await orLost(method, path, () => chunks.next());
        if (next.done) break;
        buf += next.value;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.length > 0) yield JSON.parse(line) as T;
        }
      }
    } finally {
      // A caller that stops early (it has its result) closes the response, as for-await would.
      await chunks.return?.();
    }
    if (buf.trim().length > 0) yield JSON.parse(buf) as T;
  }

  raw(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          signal: opts.signal,
          headers: {
            host: 'aegisd',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...opts.headers,
          },
        },
        resolve,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new DaemonNotRunningError(this.socketPath));
        else reject(isLostConnection(err) ? new DaemonConnectionLostError(method, path) : err);
      });
      if (opts.stream) {
        // A body that fails half-way must not reach the daemon as a whole one: the request is aborted.
        opts.stream.once('error', (err) => req.destroy(err));
        opts.stream.pipe(req);
      }
      else req.end(payload);
    });
  }
}

function readAll(res: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toDaemonError(status: number, body: unknown, text: string): DaemonError {
  const b = (body ?? {}) as { error?: string; reason?: string; issues?: DaemonError['issues'] };
  return new DaemonError(status, b.reason ?? `HTTP_${status}`, b.error ?? (text.trim() || `daemon answered HTTP ${status}`), b.issues ?? []);
}
