// Property tests of the fast path's hand framing: wherever the bytes are cut into chunks, the response framer
// and the chunked scanner find each message's end at exactly the same byte, and relay every body byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkedError, ChunkedScanner } from '../../src/router/http1-chunked.js';
import { parseRequestHead } from '../../src/router/http1-request-head.js';
import { ResponseFramer } from '../../src/router/http1-response-framing.js';

/** Cuts `buf` at the given points (deduplicated, in range) into consecutive chunks. */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...at, buf.length]) {
    if (p > from) out.push(buf.subarray(from, p));
    from = Math.max(from, p);
  }
  return out;
}

const chunkedBody = (chunks: string[], ext: boolean, trailers: string[]): string =>
  chunks.map((c) => `${Buffer.byteLength(c).toString(16)}${ext ? ';name="v"' : ''}\r\n${c}\r\n`).join('') + `0\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`;

const text = fc.string({ unit: fc.constantFrom('a', 'b', '\r', '\n', '0', ' ', ';'), maxLength: 40 });

describe('ChunkedScanner', () => {
  it('ends a chunked body exactly at its last byte, however it is cut', () => {
    fc.assert(
      fc.property(
        fc.array(text.filter((s) => s.length > 0), { maxLength: 6 }),
        fc.boolean(),
        fc.array(fc.constantFrom('X-Sum: 1', 'Expires: never'), { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (chunks, ext, trailers, points) => {
          const body = chunkedBody(chunks, ext, trailers);
          const wire = Buffer.from(body + 'GET /next HTTP/1.1\r\n\r\n', 'latin1');
          const scanner = new ChunkedScanner();
          let seen = 0;
          let end = -1;
          for (const chunk of cut(wire, points)) {
            end = scanner.scan(chunk);
            if (end >= 0) {
              seen += end;
              break;
            }
            seen += chunk.length;
          }
          expect(seen).toBe(Buffer.byteLength(body, 'latin1'));
        },
      ),
    );
  });

  it.each([
    ['a size that is not hex', 'zz\r\nab\r\n0\r\n\r\n'],
    ['a size line ended by a bare LF', '2\nab\r\n0\r\n\r\n'],
    ['data longer than its size', '2\r\nabc\r\n0\r\n\r\n'],
    ['a size past 2^53', 'fffffffffffffffff1\r\nx\r\n0\r\n\r\n'],
    ['an obs-folded trailer', '0\r\nX-A: 1\r\n folded\r\n\r\n'],
    ['a control character in an extension', '1;a\x01\r\nx\r\n0\r\n\r\n'],
  ])('refuses %s', (_name, body) => {
    expect(() => new ChunkedScanner().scan(Buffer.from(body, 'latin1'))).toThrow(ChunkedError);
  });
});

interface Generated {
  status: number;
  head: boolean;
  framing: 'length' | 'chunked';
  body: string[];
  interim: boolean;
  hop: 'none' | 'plain' | 'long' | 'declared';
}

const response = fc.record<Generated>({
  status: fc.constantFrom(200, 201, 204, 304, 404, 500),
  head: fc.boolean(),
  framing: fc.constantFrom('length', 'chunked'),
  body: fc.array(text.filter((s) => s.length > 0), { maxLength: 4 }),
  interim: fc.boolean(),
  hop: fc.constantFrom('none', 'plain', 'long', 'declared'),
});

/** The response's bytes, and what the client must get: the same, less hop-by-hop fields and any body a HEAD, 204 or 304 cannot have. */
function serialize(r: Generated): { wire: string; expected: string } {
  const bodyless = r.head || r.status === 204 || r.status === 304;
  const joined = r.body.join('');
  const framingField = r.framing === 'length' ? `Content-Length: ${Buffer.byteLength(joined, 'latin1')}\r\n` : 'Transfer-Encoding: chunked\r\n';
  const payload = bodyless ? '' : r.framing === 'length' ? joined : chunkedBody(r.body, false, []);
  const interim = r.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  // What node servers send passes as it is (it says what the router would); other hop-by-hop fields are dropped.
  const hop = { none: '', plain: 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n', long: 'Connection: keep-alive\r\nKeep-Alive: timeout=60\r\n', declared: 'X-Hop: 1\r\nConnection: X-Hop\r\n' }[r.hop];
  const kept = r.hop === 'plain' ? hop : '';
  const status = `HTTP/1.1 ${r.status} X\r\n`;
  return {
    wire: `${interim}${status}X-A: a\r\n${hop}${framingField}X-B: b\r\n\r\n${payload}`,
    expected: `${interim}${status}X-A: a\r\n${kept}${framingField}X-B: b\r\n\r\n${payload}`,
  };
}

describe('ResponseFramer', () => {
  it('delimits a run of responses on one connection at every cut, relaying all their bytes and nothing else', () => {
    fc.assert(
      fc.property(fc.array(response, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), (responses, points) => {
        const parts = responses.map(serialize);
        const wire = Buffer.from(parts.map((p) => p.wire).join(''), 'latin1');
        const got: string[] = [];
        let index = 0;
        let framer = new ResponseFramer(responses[0]!.head);
        let out = '';
        for (let chunk of cut(wire, points)) {
          while (chunk.length > 0) {
            const end = framer.feed(chunk, (b) => (out += b.toString('latin1')));
            if (end < 0) break;
            got.push(out);
            out = '';
            expect(framer.reusable).toBe(true);
            chunk = chunk.subarray(end);
            index++;
            if (index < responses.length) framer = new ResponseFramer(responses[index]!.head);
            else expect(chunk.length).toBe(0);
          }
        }
        // A bodyless response whose head ends the wire is complete once its head is.
        if (index < responses.length && framer.feed(Buffer.alloc(0), (b) => (out += b.toString('latin1'))) >= 0) {
          got.push(out);
          index++;
        }
        expect(got).toEqual(parts.map((p) => p.expected));
      }),
    );
  });

  it('marks a close-delimited, a Connection: close and an HTTP/1.0 response as the upstream’s last, and says HTTP/1.1', () => {
    for (const [head, expected] of [
      ['HTTP/1.1 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
      ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ]) {
      const framer = new ResponseFramer(false);
      let out = '';
      framer.feed(Buffer.from(head!), (b) => (out += b.toString()));
      expect(framer.reusable, head).toBe(false);
      expect(out, head).toBe(expected);
    }
    const framer = new ResponseFramer(false);
    let out = '';
    framer.feed(Buffer.from('HTTP/1.0 200 OK\r\n\r\nabc'), (b) => (out += b.toString()));
    out += framer.finish().toString();
    expect(out).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  });
});

describe('parseRequestHead', () => {
  it('takes the plain form and hands every ambiguous one to node:http', () => {
    const fast = (s: string) => parseRequestHead(Buffer.from(s, 'latin1')).kind;
    expect(fast('GET / HTTP/1.1\r\nHost: a.localhost\r\n\r\n')).toBe('fast');
    expect(fast('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n')).toBe('fast');
    expect(fast('GET / HTTP/1.1\r\nHost: a.localhost\r\n')).toBe('incomplete');
    for (const s of [
      'GET / HTTP/1.0\r\n\r\n',
      'GET /  HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\nX : a\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n',
      'GET / HTTP/1.1\nHost: a\n\n',
      'GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n',
      'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'CONNECT a:443 HTTP/1.1\r\n\r\n',
      `GET /${'a'.repeat(9000)} HTTP/1.1\r\n`,
    ])
      expect(fast(s), JSON.stringify(s.slice(0, 60))).toBe('handoff');
  });
});
