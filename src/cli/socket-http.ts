// One HTTP/1.1 exchange with aegisd over its unix socket, for the CLI's quick paths (quick-status.ts,
// quick-exec.ts): node:http and its agent took longer to load than those commands take to run. One request per
// connection (`connection: close`); the reply's body is read as it comes, whichever way its length is given
// (content-length, chunked, or up to the close).
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** A reply head longer than this is not aegisd's. */
const MAX_HEAD_BYTES = 64 * 1024;

/** The connection failed or closed before the reply was whole (the daemon stopped or crashed). */
export class ReplyCutShort extends Error {
  constructor() {
    super('the reply from aegisd was cut short');
    this.name = 'ReplyCutShort';
  }
}

export interface Reply {
  status: number;
  /** The body, de-chunked, as it arrives; throws ReplyCutShort when the connection ends early. */
  body: AsyncGenerator<Buffer>;
}

/** A socket connected to the daemon, or undefined when none listens there. */
export function connectSocket(socketPath: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    // Errors once connected reach the reader of the reply; a write after the end is no one's concern.
    sock.on('error', () => undefined);
    sock.once('error', () => resolve(undefined));
    sock.once('connect', () => resolve(sock));
  });
}

/** Writes the request head, and `body` when given (its length is sent). Header values are ASCII. */
export function sendRequest(sock: Socket, method: string, path: string, headers: Record<string, string>, body?: Buffer): void {
  let head = `${method} ${path} HTTP/1.1\r\nhost: aegisd\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (body) head += `content-length: ${body.length}\r\n`;
  const bytes = Buffer.from(`${head}\r\n`, 'latin1');
  sock.write(body ? Buffer.concat([bytes, body]) : bytes);
}

/**
 * Streams `input` as the chunked body of a request sent with `transfer-encoding: chunked`, holding it back
 * while the daemon reads slower. The socket is never half-closed: the daemon takes that as the client leaving.
 */
export function streamBody(sock: Socket, input: Readable): void {
  input.on('data', (data: Buffer) => {
    if (data.length === 0 || sock.destroyed) return;
    if (!sock.write(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, CRLF]))) {
      input.pause();
      sock.once('drain', () => input.resume());
    }
  });
  input.on('end', () => {
    if (!sock.destroyed) sock.write('0\r\n\r\n');
  });
}

const CRLF = Buffer.from('\r\n');

/** Reads the reply's head; its body then streams from `body`. */
export async function readReply(sock: Socket): Promise<Reply> {
  const source = sock[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = async (): Promise<Buffer | undefined> => {
    try {
      const r = await source.next();
      return r.done ? undefined : r.value;
    } catch {
      throw new ReplyCutShort();
    }
  };
  const more = async (): Promise<Buffer> => (await next()) ?? Promise.reject(new ReplyCutShort());
  let buf = await more();
  let end: number;
  while ((end = buf.indexOf('\r\n\r\n')) < 0) {
    if (buf.length > MAX_HEAD_BYTES) throw new ReplyCutShort();
    buf = Buffer.concat([buf, await more()]);
  }
  const head = buf.subarray(0, end).toString('latin1').toLowerCase();
  const status = /^http\/1\.[01] (\d{3})/.exec(head);
  if (!status) throw new ReplyCutShort();
  const rest = buf.subarray(end + 4);
  const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
  const body = /\r\ntransfer-encoding: *chunked/.test(head) ? dechunked(rest, more) : length !== undefined ? sized(rest, Number(length), more) : untilClose(rest, next);
  return { status: Number(status[1]), body };
}

/** The whole body; undefined when it is longer than `maxBytes`. */
export async function readWhole(body: AsyncIterable<Buffer>, maxBytes = Infinity): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of body) {
    size += part.length;
    if (size > maxBytes) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** The reply's bytes after its head: `buf` holds what has arrived and not been taken yet. */
interface Pending {
  buf: Buffer;
  more: () => Promise<Buffer>;
}

/** Yields the next `length` bytes as they arrive. */
async function* take(p: Pending, length: number): AsyncGenerator<Buffer> {
  let left = length;
  while (left > 0) {
    if (p.buf.length === 0) p.buf = await p.more();
    const part = p.buf.subarray(0, left);
    left -= part.length;
    p.buf = p.buf.subarray(part.length);
    yield part;
  }
}

function sized(first: Buffer, length: number, more: () => Promise<Buffer>): AsyncGenerator<Buffer> {
  return take({ buf: first, more }, length);
}

async function* untilClose(first: Buffer, next: () => Promise<Buffer | undefined>): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  for (let part = await next(); part; part = await next()) yield part;
}

async function* dechunked(first: Buffer, more: () => Promise<Buffer>): AsyncGenerator<Buffer> {
  const p: Pending = { buf: first, more };
  for (;;) {
    let eol: number;
    while ((eol = p.buf.indexOf('\r\n')) < 0) p.buf = Buffer.concat([p.buf, await more()]);
    // parseInt stops at a chunk extension (`;name=value`).
    const size = Number.parseInt(p.buf.subarray(0, eol).toString('latin1'), 16);
    if (!(size >= 0)) throw new ReplyCutShort();
    p.buf = p.buf.subarray(eol + 2);
    // The last chunk: what follows (trailers, the final CRLF) does not matter on a closing connection.
    if (size === 0) return;
    yield* take(p, size);
    while (p.buf.length < 2) p.buf = Buffer.concat([p.buf, await more()]);
    p.buf = p.buf.subarray(2);
  }
}
