// One JSON request/response round trip on the control session, with a timeout and typed errors.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { ERROR_CODES, type ErrorResponse } from '../../protocol/messages.js';
import { ROUTE_METHODS, ROUTES, type RouteName } from '../../protocol/routes.js';
import { PROTOCOL_HEADER } from '../../protocol/version.js';
import { ChannelError, connectionLost } from './channel-error.js';

/** RST_STREAM code for a request the client gave up on. */
export const NGHTTP2_CANCEL = 0x8;

/** Opens a stream for `route`, or throws CONNECTION_LOST when the session is gone. */
export function openStream(
  session: ClientHttp2Session,
  route: RouteName,
  protocolVersion: number,
  extra: OutgoingHttpHeaders,
  endStream: boolean,
): ClientHttp2Stream {
  if (session.destroyed || session.closed) throw connectionLost();
  try {
    const stream = session.request(
      { ':method': ROUTE_METHODS[route], ':path': ROUTES[route], [PROTOCOL_HEADER]: String(protocolVersion), ...extra },
      { endStream },
    );
    stream.on('error', () => {}); // surfaced through 'close' and the promises below
    return stream;
  } catch {
    throw connectionLost();
  }
}

/** Turns a non-2xx reply body into a ChannelError. */
export function replyError(status: number, body: Buffer): ChannelError {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<ErrorResponse>;
    if (typeof parsed.message === 'string' && ERROR_CODES.includes(parsed.code as never)) {
      return new ChannelError(parsed.code as ErrorResponse['code'], parsed.message, status);
    }
  } catch {
    // fall through
  }
  return new ChannelError('BAD_RESPONSE', `harness replied ${status}: ${body.toString('utf8').slice(0, 200)}`, status);
}

/**
 * Collects a whole reply body. Callers that also watch 'close' must ignore it once they handed the
 * stream to readBody: over some transports 'close' follows 'end' in the same tick, before this
 * promise's callbacks run.
 */
export function readBody(stream: ClientHttp2Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => reject(connectionLost())); // no-op after 'end'
  });
}

export interface CallOptions {
  timeoutMs?: number;
}

/** Sends `body` as JSON (none for GET routes) and resolves with the parsed JSON reply. */
export function callJson<T>(
  session: ClientHttp2Session,
  route: RouteName,
  protocolVersion: number,
  body: unknown,
  opts: CallOptions = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const hasBody = body !== undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = openStream(session, route, protocolVersion, hasBody ? { 'content-type': 'application/json' } : {}, !hasBody);
    } catch (err) {
      return reject(err);
    }
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        reject(new ChannelError('TIMEOUT', `${route} got no reply from the harness within ${opts.timeoutMs} ms`));
        stream.close(NGHTTP2_CANCEL);
      }, opts.timeoutMs);
    }
    const done = (): void => clearTimeout(timer);
    let responded = false;
    stream.once('close', done);
    stream.once('response', (headers: IncomingHttpHeaders) => {
      responded = true;
      const status = Number(headers[':status']);
      readBody(stream).then((buf) => {
        done();
        if (status < 200 || status > 299) return reject(replyError(status, buf));
        try {
          resolve(JSON.parse(buf.toString('utf8')) as T);
        } catch {
          reject(new ChannelError('BAD_RESPONSE', `${route}: reply is not JSON`, status));
        }
      }, reject);
    });
    stream.once('close', () => {
      if (!responded) reject(connectionLost()); // after the response, readBody reports a loss
    });
    if (hasBody) stream.end(JSON.stringify(body));
  });
}
