// Host side of forward: a Duplex connected to guest TCP 127.0.0.1:PORT through one HTTP/2 stream.
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, openStream, readRefusal, replyStatus } from './call.js';
import { ChannelError } from './channel-error.js';
import { closedBeforeReply } from './protocol-violation.js';
import { probeAfterTimeout } from './session-liveness.js';

export interface ForwardOptions {
  /** How long the guest may take to accept the TCP connection (or to finish saying why not). Default 10 s. */
  timeoutMs?: number;
}

/**
 * Resolves once the guest accepted the TCP connection. The Duplex is the connection: end() half-closes
 * it, destroy() resets it, and back-pressure holds both ways. A refused port rejects with
 * ChannelError code FORWARD_REFUSED. Errors after that arrive as 'error'/'close' on the Duplex.
 */
export function openForward(session: ClientHttp2Session, protocolVersion: number, port: number, opts: ForwardOptions = {}): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return reject(new ChannelError('BAD_REQUEST', `invalid port ${port}`));
    }
    let stream: ReturnType<typeof openStream>;
    try {
      stream = openStream(session, 'forward', protocolVersion, { [HEADERS.port]: String(port) }, false);
    } catch (err) {
      return reject(err);
    }
    const timeoutMs = opts.timeoutMs ?? 10_000;
    // Runs until the connection is accepted or the refusal is read whole: a guest that trickles its
    // error reply holds nothing for longer than this.
    const timer = setTimeout(() => {
      reject(new ChannelError('TIMEOUT', `forward to port ${port}: no complete answer from the machine within ${timeoutMs} ms`));
      stream.close(NGHTTP2_CANCEL);
      probeAfterTimeout(session, 'forward');
    }, timeoutMs);
    let responded = false;
    stream.once('response', (headers: IncomingHttpHeaders) => {
      responded = true;
      const status = replyStatus(session, headers, 'forward');
      if (status instanceof ChannelError) return reject(status);
      if (status === 200) {
        clearTimeout(timer);
        return resolve(stream);
      }
      readRefusal(session, stream, status, 'forward')
        .then(reject, reject)
        .finally(() => clearTimeout(timer));
    });
    stream.once('close', () => {
      clearTimeout(timer);
      if (!responded) reject(closedBeforeReply(session, stream, 'forward')); // after the response, readBody reports a loss
    });
  });
}
