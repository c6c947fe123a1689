// One JSON request/response round trip on the control session, bounded in size and time, with typed errors.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { ROUTE_METHODS, ROUTES, type RouteName } from '../../protocol/routes.js';
import { PROTOCOL_HEADER } from '../../protocol/version.js';
import { ChannelError } from './channel-error.js';
import { DEFAULT_CALL_TIMEOUT_MS, MAX_ERROR_REPLY_BYTES, MAX_JSON_REPLY_BYTES } from './channel-limits.js';
import { breakSession, closedBeforeReply, sessionLost } from './protocol-violation.js';
import { checkErrorResponse, checkReplyHeaders, guestText, ReplyShapeError } from './reply-checks.js';
import { probeAfterTimeout } from './session-liveness.js';

/** RST_STREAM code for a request the client gave up on. */
export const NGHTTP2_CANCEL = 0x8;

/** Opens a stream for `route`, or throws CONNECTION_LOST (or the session's violation) when the session is gone. */
export function openStream(
  session: ClientHttp2Session,
  route: RouteName,
  protocolVersion: number,
  extra: OutgoingHttpHeaders,
  endStream: boolean,
  /** The body ends with trailers the caller sends on 'wantTrailers' (a body that ends without them was cut off). */
  waitForTrailers = false,
): ClientHttp2Stream {
  if (session.destroyed || session.closed) throw sessionLost(session);
  try {
    const stream = session.request(
      { ':method': ROUTE_METHODS[route], ':path': ROUTES[route], [PROTOCOL_HEADER]: String(protocolVersion), ...extra },
      { endStream, waitForTrailers },
    );
    stream.on('error', () => {}); // surfaced through 'close' and the promises below
    return stream;
  } catch {
    throw sessionLost(session);
  }
}

/**
 * The reply's status, after checking its headers; oversized headers break the session (a real harness
 * sends four short ones) and the returned error is what the call fails with.
 */
export function replyStatus(session: ClientHttp2Session, headers: IncomingHttpHeaders, route: RouteName): number | ChannelError {
  try {
    checkReplyHeaders(headers);
  } catch (err) {
    return breakSession(session, `the ${route} reply's ${(err as Error).message}`);
  }
  return Number(headers[':status']);
}

/** Turns a non-2xx reply body into a ChannelError (its text cut and made printable). */
export function replyError(status: number, body: Buffer): ChannelError {
  try {
    const parsed = checkErrorResponse(JSON.parse(body.toString('utf8')));
    if (parsed) return new ChannelError(parsed.code, parsed.message, status);
  } catch {
    // fall through
  }
  return new ChannelError('BAD_RESPONSE', `harness replied ${status}: ${guestText(body.toString('utf8'), 200)}`, status);
}

/**
 * Collects a whole reply body of at most `maxBytes`: a longer one breaks the session (rejecting with the
 * PROTOCOL_VIOLATION error), so a guest can never make the daemon buffer more. Callers that also watch
 * 'close' must ignore it once they handed the stream to readBody: over some transports 'close' follows
 * 'end' in the same tick, before this promise's callbacks run. The caller bounds the time.
 */
export function readBody(session: ClientHttp2Session, stream: ClientHttp2Stream, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size <= maxBytes) return void chunks.push(c);
      stream.off('data', onData);
      chunks.length = 0;
      reject(breakSession(session, `${what} is longer than the ${maxBytes}-byte limit`));
    };
    stream.on('data', onData);
    stream.once('end', () => {
      // A reset stream (by us at a deadline, or by the peer) also ends: what came is not the whole reply.
      if (stream.rstCode) reject(sessionLost(session));
      else resolve(Buffer.concat(chunks));
    });
    stream.once('close', () => reject(sessionLost(session))); // no-op after 'end'
  });
}

/** Reads a refusal (non-2xx) body, at most MAX_ERROR_REPLY_BYTES, into the ChannelError it carries. */
export async function readRefusal(session: ClientHttp2Session, stream: ClientHttp2Stream, status: number, route: RouteName): Promise<ChannelError> {
  return replyError(status, await readBody(session, stream, MAX_ERROR_REPLY_BYTES, `the ${route} error reply`));
}

export interface CallOptions {
  /** The whole reply (headers and body) must arrive within this. Default DEFAULT_CALL_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * Sends `body` as JSON (none for GET routes) and resolves with the reply as `check` returns it. A reply
 * over MAX_JSON_REPLY_BYTES, not JSON, or of the wrong shape breaks the session (PROTOCOL_VIOLATION).
 */
export function callJson<T>(
  session: ClientHttp2Session,
  route: RouteName,
  protocolVersion: number,
  body: unknown,
  check: (value: unknown) => T,
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
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new ChannelError('TIMEOUT', `${route} got no complete reply from the harness within ${timeoutMs} ms`));
      stream.close(NGHTTP2_CANCEL);
      probeAfterTimeout(session, route);
    }, timeoutMs);
    const done = (): void => clearTimeout(timer);
    let responded = false;
    stream.once('close', done);
    stream.once('response', (headers: IncomingHttpHeaders) => {
      responded = true;
      const status = replyStatus(session, headers, route);
      if (status instanceof ChannelError) return reject(status);
      if (status < 200 || status > 299) return void readRefusal(session, stream, status, route).then(reject, reject).finally(done);
      readBody(session, stream, MAX_JSON_REPLY_BYTES, `the ${route} reply`).then((buf) => {
        done();
        if (timedOut) return;
        try {
          resolve(check(JSON.parse(buf.toString('utf8'))));
        } catch (err) {
          const why = err instanceof ReplyShapeError ? err.message : 'it is not JSON';
          reject(breakSession(session, `the ${route} reply: ${why}`));
        }
      }, reject);
    });
    stream.once('close', () => {
      if (!responded) reject(closedBeforeReply(session, stream, route)); // after the response, readBody reports a loss
    });
    if (hasBody) stream.end(JSON.stringify(body));
  });
}
