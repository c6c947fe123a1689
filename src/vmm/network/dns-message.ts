// The little of the DNS wire format (RFC 1035) the DNS gate needs: a query's one question, the addresses
// in an answer, and a refusal. Every read is bounds-checked: queries come from an untrusted guest.

/** Record types the gate reads addresses from. */
const TYPE_A = 1;
const TYPE_AAAA = 28;
const HEADER = 12;
/** RCODEs. */
export const RCODE_SERVFAIL = 2;
export const RCODE_REFUSED = 5;

export interface DnsQuestion {
  id: number;
  /** Lower case, without the root dot. */
  name: string;
  type: number;
  /** Where the question ends in the message (a reply repeats the message up to here). */
  end: number;
}

export interface DnsAnswer {
  id: number;
  rcode: number;
  question: { name: string; type: number };
  /** A and AAAA records of the answer section, whatever their owner (a CNAME chain's end included). */
  addresses: { address: string; ttl: number }[];
}

/** Reads a possibly compressed name at `offset`; returns it and where the name's own bytes end. */
function readName(msg: Buffer, offset: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let next: number | undefined;
  // Each pointer must go backwards, so a loop cannot form; the hop limit is a second guard.
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos];
    if (len === 0) return { name: labels.join('.').toLowerCase(), next: next ?? pos + 1 };
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined;
      const target = ((len & 0x3f) << 8) | msg[pos + 1];
      if (target >= pos) return undefined;
      next ??= pos + 2;
      pos = target;
      continue;
    }
    if (len & 0xc0 || pos + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return undefined;
}

/** The question of a standard query with exactly one; undefined for anything else. */
export function parseQuery(msg: Buffer): DnsQuestion | undefined {
  if (msg.length < HEADER) return undefined;
  const flags = msg.readUInt16BE(2);
  const isResponse = flags & 0x8000;
  const opcode = (flags >> 11) & 0xf;
  if (isResponse || opcode !== 0 || msg.readUInt16BE(4) !== 1) return undefined;
  const q = readName(msg, HEADER);
  if (!q || q.next + 4 > msg.length) return undefined;
  return { id: msg.readUInt16BE(0), name: q.name, type: msg.readUInt16BE(q.next), end: q.next + 4 };
}

/** A reply to `query` carrying only its question and `rcode` (REFUSED for a name not on the list). */
export function errorReply(query: Buffer, question: DnsQuestion, rcode: number): Buffer {
  const reply = Buffer.from(query.subarray(0, question.end));
  // QR (response), the query's opcode and RD kept, RA set, the rest cleared.
  const rd = query.readUInt16BE(2) & 0x0100;
  reply.writeUInt16BE(0x8000 | rd | 0x0080 | rcode, 2);
  reply.writeUInt16BE(1, 4);
  reply.writeUInt16BE(0, 6);
  reply.writeUInt16BE(0, 8);
  reply.writeUInt16BE(0, 10);
  return reply;
}

function addressText(rdata: Buffer): string {
  if (rdata.length === 4) return Array.from(rdata).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => rdata.readUInt16BE(i * 2).toString(16));
  return groups.join(':');
}

/** A response's id, rcode, question and addresses; undefined when it is not a well-formed response. */
export function parseAnswer(msg: Buffer): DnsAnswer | undefined {
  if (msg.length < HEADER) return undefined;
  const flags = msg.readUInt16BE(2);
  if (!(flags & 0x8000) || msg.readUInt16BE(4) !== 1) return undefined;
  const q = readName(msg, HEADER);
  if (!q || q.next + 4 > msg.length) return undefined;
  const question = { name: q.name, type: msg.readUInt16BE(q.next) };
  let pos = q.next + 4;
  const addresses: DnsAnswer['addresses'] = [];
  for (let i = msg.readUInt16BE(6); i > 0; i--) {
    const owner = readName(msg, pos);
    if (!owner || owner.next + 10 > msg.length) return undefined;
    const type = msg.readUInt16BE(owner.next);
    const ttl = msg.readUInt32BE(owner.next + 4);
    const length = msg.readUInt16BE(owner.next + 8);
    const start = owner.next + 10;
    if (start + length > msg.length) return undefined;
    if ((type === TYPE_A && length === 4) || (type === TYPE_AAAA && length === 16)) addresses.push({ address: addressText(msg.subarray(start, start + length)), ttl });
    pos = start + length;
  }
  return { id: msg.readUInt16BE(0), rcode: flags & 0xf, question, addresses };
}
