// A session nghttp2 has given up on without telling Node. When a harness sends bytes that are no HTTP/2
// (a frame larger than the maximum, say), nghttp2 answers GOAWAY and ignores the connection from then on,
// but Node emits nothing and keeps the session open: every call on it waits out its timeout, forever, and
// the machine is never failed. A live peer's HTTP/2 stack acknowledges a PING on its own, however busy or
// slow its harness is, so a call that timed out asks for one: no answer means the session is dead.
import type { ClientHttp2Session } from 'node:http2';
import { SESSION_PING_TIMEOUT_MS } from './channel-limits.js';
import { breakSession } from './protocol-violation.js';

/** After `what` timed out: ends the session (as broken) unless the peer acknowledges a PING in time. */
export function probeAfterTimeout(session: ClientHttp2Session, what: string): void {
  if (session.destroyed || session.closed) return;
  const dead = (): void => void breakSession(session, `no HTTP/2 PING acknowledgement within ${SESSION_PING_TIMEOUT_MS} ms after ${what} timed out (malformed frames, or a hung machine)`);
  const timer = setTimeout(dead, SESSION_PING_TIMEOUT_MS);
  timer.unref();
  try {
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err && !session.destroyed) dead();
    });
    // Too many PINGs already unanswered is an answer too.
    if (!sent) {
      clearTimeout(timer);
      dead();
    }
  } catch {
    clearTimeout(timer);
    dead();
  }
}
