// The DNS gate: answers only listed names, admits an answer's addresses before the guest gets it, and gives
// the guest no answer the filter could not take. Real UDP sockets on loopback addresses of the test's own.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsGate } from '../../../src/vmm/network/dns-gate.js';
import { RCODE_REFUSED, RCODE_SERVFAIL, parseAnswer } from '../../../src/vmm/network/dns-message.js';

const base = `127.84.${process.pid % 250}`;
const upstreamAddress = `${base}.1`;

function query(id: number, qname: string): Buffer {
  const labels = qname.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** An upstream answering every A query with 93.184.216.34 (TTL 60), after first sending a reply with a wrong id. */
async function upstream(): Promise<{ asked: string[]; close: () => void }> {
  const asked: string[] = [];
  const s = dgram.createSocket('udp4');
  s.on('message', (q, from) => {
    const labels: string[] = [];
    let pos = 12;
    for (; q[pos]; pos += 1 + q[pos]) labels.push(q.toString('latin1', pos + 1, pos + 1 + q[pos]));
    asked.push(labels.join('.'));
    const end = pos + 5;
    const reply = Buffer.concat([q.subarray(0, end), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34])]);
    reply.writeUInt16BE(0x8180, 2);
    reply.writeUInt16BE(1, 6);
    const spoof = Buffer.from(reply);
    spoof.writeUInt16BE(q.readUInt16BE(0) ^ 1, 0);
    spoof[spoof.length - 1] = 66; // a different address, under a wrong id: must be ignored
    s.send(spoof, from.port, from.address);
    s.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => s.bind(53, upstreamAddress, r));
  return { asked, close: () => s.close() };
}

async function ask(address: string, msg: Buffer): Promise<Buffer> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 3_000);
      s.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      s.send(msg, 53, address);
    });
  } finally {
    s.close();
  }
}

describe('DNS gate', () => {
  let up: Awaited<ReturnType<typeof upstream>>;
  const admitted: string[] = [];
  let failAdmit = false;
  let gate: DnsGate;
  const gateAddress = `${base}.2`;

  beforeAll(async () => {
    up = await upstream();
    gate = await DnsGate.open({
      address: gateAddress,
      upstreams: [upstreamAddress],
      allows: (name) => name === 'api.example.com',
      admit: async (name, addresses) => {
        // The guest must not have the answer yet: the admission comes first.
        await new Promise((r) => setTimeout(r, 50));
        if (failAdmit) throw new Error('filter full');
        admitted.push(...addresses.map((a) => `${name} ${a.address} ${a.ttl}`));
      },
    });
  });

  afterAll(() => {
    gate?.close();
    up?.close();
  });

  it('refuses a name that is not listed, without asking upstream', async () => {
    const reply = await ask(gateAddress, query(1, 'exfil.attacker.example'));
    expect(reply.readUInt16BE(2) & 0xf).toBe(RCODE_REFUSED);
    expect(up.asked).toEqual([]);
  });

  it('relays a listed name\'s answer once its addresses are admitted, ignoring a reply with the wrong id', async () => {
    const reply = parseAnswer(await ask(gateAddress, query(2, 'API.example.com')));
    expect(reply).toMatchObject({ id: 2, rcode: 0, addresses: [{ address: '93.184.216.34', ttl: 60 }] });
    expect(admitted).toEqual(['api.example.com 93.184.216.34 60']);
    expect(up.asked).toEqual(['API.example.com']);
  });

  it('answers SERVFAIL when the filter cannot take the addresses', async () => {
    failAdmit = true;
    const reply = await ask(gateAddress, query(3, 'api.example.com'));
    failAdmit = false;
    expect(reply.readUInt16BE(0)).toBe(3);
    expect(reply.readUInt16BE(2) & 0xf).toBe(RCODE_SERVFAIL);
    expect(reply.readUInt16BE(6)).toBe(0); // no addresses for the guest
  });
});
