// The DNS gate's wire format: a guest's query is read defensively, answers yield their addresses, refusals echo the question.
import { describe, expect, it } from 'vitest';
import { errorReply, parseAnswer, parseQuery, RCODE_REFUSED } from '../../../src/vmm/network/dns-message.js';

function name(n: string): Buffer {
  return Buffer.concat([...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}

function header(id: number, flags: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

function query(id: number, qname: string, type = 1): Buffer {
  return Buffer.concat([header(id, 0x0100, 1, 0), name(qname), u16(type), u16(1)]);
}

/** A record whose owner is a pointer to offset 12 (the question's name). */
function record(type: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([u16(0xc00c), u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
}

describe('DNS messages', () => {
  it("reads a query's one question, in lower case", () => {
    const q = query(0x1234, 'API.Example.com', 28);
    expect(parseQuery(q)).toEqual({ id: 0x1234, name: 'api.example.com', type: 28, end: q.length });
  });

  it('ignores responses, other opcodes, several questions and truncated or looping names', () => {
    expect(parseQuery(Buffer.concat([header(1, 0x8100, 1, 0), name('a.b'), u16(1), u16(1)]))).toBeUndefined();
    expect(parseQuery(Buffer.concat([header(1, 0x2800, 1, 0), name('a.b'), u16(1), u16(1)]))).toBeUndefined();
    expect(parseQuery(Buffer.concat([header(1, 0x0100, 2, 0), name('a.b'), u16(1), u16(1)]))).toBeUndefined();
    expect(parseQuery(query(1, 'a.example.com').subarray(0, 20))).toBeUndefined();
    // A name that points at itself, and one that points forward: never followed.
    expect(parseQuery(Buffer.concat([header(1, 0x0100, 1, 0), u16(0xc00c), u16(1), u16(1)]))).toBeUndefined();
    expect(parseQuery(Buffer.concat([header(1, 0x0100, 1, 0), u16(0xc020), u16(1), u16(1), Buffer.alloc(20)]))).toBeUndefined();
    expect(parseQuery(Buffer.alloc(5))).toBeUndefined();
  });

  it('refuses with the question echoed, the id and RD kept, nothing else', () => {
    const q = Buffer.concat([query(0xbeef, 'x.example.com'), Buffer.from([0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0])]);
    q.writeUInt16BE(1, 10); // an EDNS OPT record in the additional section
    const reply = errorReply(q, parseQuery(q)!, RCODE_REFUSED);
    expect(reply.readUInt16BE(0)).toBe(0xbeef);
    expect(reply.readUInt16BE(2)).toBe(0x8000 | 0x0100 | 0x0080 | RCODE_REFUSED);
    expect([reply.readUInt16BE(4), reply.readUInt16BE(6), reply.readUInt16BE(8), reply.readUInt16BE(10)]).toEqual([1, 0, 0, 0]);
    expect(reply.subarray(12)).toEqual(q.subarray(12, parseQuery(q)!.end));
  });

  it("collects an answer's A and AAAA records through a CNAME chain, with their TTLs", () => {
    const cname = name('edge.cdn.example.net');
    const msg = Buffer.concat([
      header(7, 0x8180, 1, 4),
      name('api.example.com'),
      u16(1),
      u16(1),
      record(5, 300, cname),
      record(1, 60, Buffer.from([93, 184, 216, 34])),
      record(28, 30, Buffer.from('20010db8000000000000000000000001', 'hex')),
      record(16, 10, Buffer.from('\x05hello')),
    ]);
    expect(parseAnswer(msg)).toEqual({
      id: 7,
      rcode: 0,
      question: { name: 'api.example.com', type: 1 },
      addresses: [
        { address: '93.184.216.34', ttl: 60 },
        { address: '2001:db8:0:0:0:0:0:1', ttl: 30 },
      ],
    });
  });

  it('refuses an answer whose records run past its end', () => {
    const msg = Buffer.concat([header(7, 0x8180, 1, 1), name('a.example.com'), u16(1), u16(1), record(1, 60, Buffer.from([1, 2, 3, 4]))]);
    expect(parseAnswer(msg.subarray(0, msg.length - 2))).toBeUndefined();
    expect(parseAnswer(query(7, 'a.example.com'))).toBeUndefined(); // a query is no answer
  });
});
