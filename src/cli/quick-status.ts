// `aegis status` without the command parser or node:http: health checks and scripts call it often, and the
// parser's load was most of its start. One GET on the daemon's socket (socket-http.ts). Only the plain case is
// answered here: anything else (no daemon, an error, an odd reply) returns false and the full command runs,
// which says what went wrong.
import type { AegisPaths } from '../config/paths.js';
import { runningPid } from '../daemon/pid-file.js';
import type { DaemonStatus } from '../sdk/daemon-status.js';
import { statusText } from './output/status-text.js';
import { connectSocket, readReply, readWhole, sendRequest } from './socket-http.js';

/** A reply bigger than this is not a status document: left to the full command. */
const MAX_REPLY_BYTES = 1 << 20;
const TIMEOUT_MS = 10_000;

export async function quickStatus(paths: AegisPaths, out: NodeJS.WritableStream): Promise<boolean> {
  if (runningPid(paths.pidFile) === undefined) return false;
  const status = await getStatus(paths.socket);
  if (!status) return false;
  out.write(statusText(status).join('\n') + '\n');
  return true;
}

async function getStatus(socketPath: string): Promise<DaemonStatus | undefined> {
  const sock = await connectSocket(socketPath);
  if (!sock) return undefined;
  sock.setTimeout(TIMEOUT_MS, () => sock.destroy());
  try {
    sendRequest(sock, 'GET', '/v1/status', {});
    const reply = await readReply(sock);
    const body = reply.status === 200 ? await readWhole(reply.body, MAX_REPLY_BYTES) : undefined;
    return body && parseStatus(body.toString('utf8'));
  } catch {
    return undefined; // cut short, timed out: the full command says what happened
  } finally {
    sock.destroy();
  }
}

function parseStatus(text: string): DaemonStatus | undefined {
  try {
    const status = JSON.parse(text) as DaemonStatus;
    return typeof status === 'object' && status !== null && 'backend' in status && 'router' in status ? status : undefined;
  } catch {
    return undefined;
  }
}
