// A guest server that speaks HTTP/1.1 by hand, for the router's fast-path tests: it records each request as
// the bytes it got (to see what framing reached the guest) and answers with raw bytes the test scripts, in
// pieces with pauses between them (so they arrive split where the test wants).
import net from 'node:net';

export interface RawRequest {
  method: string;
  url: string;
  /** Lower-cased header names; repeated ones joined with ', '. */
  headers: Record<string, string>;
  /** The head as received, up to and including CRLF CRLF. */
  head: string;
  /** The body as received on the wire (chunk framing included when chunked). */
  wire: string;
  /** The decoded body. */
  body: string;
  /** Which guest connection carried it (1, 2, …). */
  connection: number;
}

/** Response pieces, written in order with a pause between them; `close` ends the connection after. */
export interface RawResponse {
  pieces: (string | Buffer)[];
  close?: boolean;
}

export interface RawGuest {
  port: number;
  requests: RawRequest[];
  connections(): number;
  close(): Promise<void>;
}

/** Parses one request at the start of `buf`; undefined when it is not all there yet. */
function parseRequest(buf: Buffer): { req: Omit<RawRequest, 'connection'>; length: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end + 4);
  const [line, ...fields] = head.slice(0, -4).split('\r\n');
  const [method, url] = line!.split(' ');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    const name = f.slice(0, colon).toLowerCase();
    const value = f.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let at = end + 4;
  let body = '';
  if (headers['transfer-encoding'] === 'chunked') {
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.toString('latin1', at, lineEnd).split(';')[0]!, 16);
      if (size === 0) {
        const last = buf.indexOf('\r\n\r\n', lineEnd - 2);
        if (last < 0) return undefined;
        at = last + 4;
        break;
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      body += buf.toString('latin1', lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
  } else {
    const length = Number(headers['content-length'] ?? 0);
    if (buf.length < at + length) return undefined;
    body = buf.toString('latin1', at, at + length);
    at += length;
  }
  return { req: { method: method!, url: url!, headers, head, wire: buf.toString('latin1', end + 4, at), body }, length: at };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `answer` scripts the response to each request; requests on one connection are answered in order. */
export async function startRawGuest(answer: (req: RawRequest) => RawResponse, pauseMs = 5): Promise<RawGuest> {
  const requests: RawRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((sock) => {
    const connection = ++accepted;
    sock.setNoDelay(true); // pieces leave when written, not after the peer's delayed ACK
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    let busy = false;
    const drain = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      for (let parsed = parseRequest(buf); parsed; parsed = parseRequest(buf)) {
        buf = buf.subarray(parsed.length);
        const req = { ...parsed.req, connection };
        requests.push(req);
        const res = answer(req);
        for (let i = 0; i < res.pieces.length; i++) {
          if (i > 0) await pause(pauseMs);
          if (sock.destroyed) return;
          sock.write(res.pieces[i]!);
        }
        if (res.close) {
          sock.end();
          return;
        }
      }
      busy = false;
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      void drain();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    connections: () => sockets.size,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** A response with a Content-Length body. */
export const lengthResponse = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** A chunked response whose body is sent as the given chunks. */
export const chunkedResponse = (chunks: string[], extra = ''): string =>
  `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n${extra}\r\n` + chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
