// A harness that breaks the control protocol (an oversized reply, a corrupt frame, a reply of the wrong
// shape) is taken for hostile: its whole session ends at once, and every call on it fails with the reason,
// so the machine is stopped and marked failed instead of being read from any further.
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { ChannelError, connectionLost } from './channel-error.js';
import { MAX_REPLY_HEADER_BYTES, MAX_REPLY_HEADER_PAIRS } from './channel-limits.js';

/** GOAWAY code sent to a harness that broke the protocol. */
const NGHTTP2_PROTOCOL_ERROR = 0x1;
/** RST_STREAM code nghttp2 uses for a header block over our limits (and no honest harness sends). */
const NGHTTP2_ENHANCE_YOUR_CALM = 0xb;

const violations = new WeakMap<ClientHttp2Session, ChannelError>();

/** Ends `session` because of `what` (the first reason wins) and returns the error every call on it fails with. */
export function breakSession(session: ClientHttp2Session, what: string): ChannelError {
  let err = violations.get(session);
  if (!err) {
    err = new ChannelError('PROTOCOL_VIOLATION', `the machine broke the control protocol: ${what}`);
    violations.set(session, err);
  }
  if (!session.destroyed) session.destroy(err, NGHTTP2_PROTOCOL_ERROR);
  return err;
}

/** Why `session` was broken off, if it was. */
export function violationOf(session: ClientHttp2Session): ChannelError | undefined {
  return violations.get(session);
}

/** What a call whose session went away fails with: the violation that ended it, or a plain connection loss. */
export function sessionLost(session: ClientHttp2Session): ChannelError {
  return violations.get(session) ?? connectionLost();
}

/**
 * What a call whose stream closed before its reply fails with. A stream reset with ENHANCE_YOUR_CALM on a
 * live session carried a header block over our limits: that breaks the session like any violation.
 */
export function closedBeforeReply(session: ClientHttp2Session, stream: ClientHttp2Stream, route: string): ChannelError {
  if (stream.rstCode === NGHTTP2_ENHANCE_YOUR_CALM && !session.destroyed) {
    return breakSession(session, `the ${route} reply's headers exceed the HTTP/2 limits (${MAX_REPLY_HEADER_BYTES} bytes, ${MAX_REPLY_HEADER_PAIRS} fields)`);
  }
  return sessionLost(session);
}
