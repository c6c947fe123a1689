// HTTP/1.1 to aegisd over its unix socket, shared by the SDK and the CLI. node:http rather than fetch/undici:
// nothing extra to load, so `aegis status` starts as fast as a bare Node program.
import http from 'node:http';
import type { Readable } from 'node:stream';
import { AegisConnectionLostError, AegisNotRunningError, apiErrorOf, isLostConnection } from './errors.js';

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** A raw request body streamed as is (stdin for exec, a file's bytes); set its content-type in headers. */
  stream?: Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class Transport {
  /** `source`: the `x-aegis-source` every write carries (who made a resource: `sdk`, `mcp`); absent: per request. */
  constructor(
    readonly socketPath: string,
    readonly source?: string,
  ) {}

  get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('GET', path, opts);
  }
  post<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('POST', path, { ...opts, body });
  }
  put<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('PUT', path, { ...opts, body });
  }
  delete<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('DELETE', path, opts);
  }

  /** One request whose answer is JSON (or empty); an error status throws AegisApiError. */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.ok(method, path, opts);
    const text = (await orLost(method, path, () => readAll(res, opts.signal))).toString('utf8');
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  }

  /** Streams an NDJSON answer, one parsed object per line, in order (GET unless `opts.method` says otherwise). */
  async *ndjson<T>(path: string, opts: RequestOptions & { method?: string } = {}): AsyncGenerator<T> {
    const method = opts.method ?? 'GET';
    const res = await this.ok(method, path, opts);
    let buf = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res as AsyncIterable<string>) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.length > 0) yield JSON.parse(line) as T;
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw isLostConnection(err) ? new AegisConnectionLostError(method, path) : err;
    } finally {
      // A consumer that stops early (break, return) closes the response, and with it the daemon's stream.
      res.destroy();
    }
    if (buf.trim().length > 0) yield JSON.parse(buf) as T;
  }

  /** The response once its status is known to be a success; an error status throws AegisApiError. */
  async ok(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await this.raw(method, path, opts);
    const status = res.statusCode ?? 500;
    if (status >= 400) throw apiErrorOf(status, (await orLost(method, path, () => readAll(res, opts.signal))).toString('utf8'));
    return res;
  }

  /** The response as it comes, whatever its status. */
  raw(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          signal,
          headers: {
            host: 'aegisd',
            ...(this.source && method !== 'GET' ? { 'x-aegis-source': this.source } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...opts.headers,
          },
        },
        resolve,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (signal?.aborted) reject(signal.reason);
        else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new AegisNotRunningError(this.socketPath));
        else reject(isLostConnection(err) ? new AegisConnectionLostError(method, path) : err);
      });
      if (opts.stream) {
        // Sent now, not with the stream's first bytes: an exec's command starts before its input comes.
        req.flushHeaders();
        opts.stream.on('error', (err) => req.destroy(err));
        opts.stream.pipe(req);
      } else req.end(payload);
    });
  }
}

/** Runs fn, turning a dropped daemon connection into AegisConnectionLostError. */
async function orLost<T>(method: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isLostConnection(err) ? new AegisConnectionLostError(method, path) : err;
  }
}

export async function readAll(res: Readable, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for await (const c of res) parts.push(c as Buffer);
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
  return Buffer.concat(parts);
}
