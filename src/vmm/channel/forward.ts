// Host side of forward: a Duplex connected to guest TCP 127.0.0.1:PORT through one HTTP/2 stream.
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, openStream, readBody, replyError } from './call.js';
import { ChannelError, connectionLost } from './channel-error.js';

export interface ForwardOptions {
  /** How long the guest may take to accept the TCP connection. Default 10 s. */
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
    const timer = setTimeout(() => {
      reject(new ChannelError('TIMEOUT', `forward to port ${port}: no answer from the machine within ${timeoutMs} ms`));
      stream.close(NGHTTP2_CANCEL);
    }, timeoutMs);
    let responded = false;
    stream.once('response', (headers: IncomingHttpHeaders) => {
      responded = true;
      clearTimeout(timer);
      const status = Number(headers[':status']);
      if (status === 200) return resolve(stream);
      readBody(stream).then((body) => reject(replyError(status, body)), reject);
    });
    stream.once('close', () => {
      clearTimeout(timer);
      if (!responded) reject(connectionLost()); // after the response, readBody reports a loss
    });
  });
}
