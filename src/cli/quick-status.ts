// `aegis status` without the command parser or node:http: health checks and scripts call it often, and the
// parser's load was most of its start. One HTTP/1.0 GET on the daemon's socket (the daemon answers it whole,
// then closes). Only the plain case is answered here: anything else (no daemon, an error, an odd reply) returns
// false and the full command runs, which says what went wrong.
import net from 'node:net';
import type { AegisPaths } from '../config/paths.js';
import { runningPid } from '../daemon/pid-file.js';
import type { DaemonStatus } from '../sdk/daemon-status.js';
import { statusText } from './output/status-text.js';

/** A reply bigger than this is not a status document: left to the full command. */
const MAX_REPLY_BYTES = 1 << 20;
const TIMEOUT_MS = 10_000;

export async function quickStatus(paths: AegisPaths, out: NodeJS.WritableStream): Promise<boolean> {
  if (runningPid(paths.pidFile) === undefined) return false;
  const reply = await getOnce(paths.socket, '/v1/status');
  const status = reply && parseReply(reply);
  if (!status) return false;
  out.write(statusText(status).join('\n') + '\n');
  return true;
}

function getOnce(socketPath: string, urlPath: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const sock = net.connect(socketPath);
    const fail = (): void => {
      sock.destroy();
      resolve(undefined);
    };
    sock.setTimeout(TIMEOUT_MS, fail);
    sock.on('error', fail);
    // Not end(): a server may drop a request whose client already half-closed. HTTP/1.0: it closes after.
    sock.on('connect', () => sock.write(`GET ${urlPath} HTTP/1.0\r\nHost: aegisd\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_REPLY_BYTES) return fail();
      parts.push(d);
    });
    sock.on('end', () => resolve(Buffer.concat(parts)));
  });
}

/** The status document of a whole 200 reply; undefined otherwise. */
function parseReply(reply: Buffer): DaemonStatus | undefined {
  const text = reply.toString('utf8');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0 || !/^HTTP\/1\.[01] 200 /.test(text)) return undefined;
  const head = text.slice(0, headEnd).toLowerCase();
  const body = text.slice(headEnd + 4);
  const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
  // Without a length the body runs to the close (HTTP/1.0); a cut-off one then fails to parse as JSON.
  if ((length !== undefined && Buffer.byteLength(body) !== Number(length)) || /\r\ntransfer-encoding:/.test(head)) return undefined;
  try {
    const status = JSON.parse(body) as DaemonStatus;
    return typeof status === 'object' && status !== null && 'backend' in status && 'router' in status ? status : undefined;
  } catch {
    return undefined;
  }
}
