// A machine's DNS server when its egress is an allow-list that names hosts. It answers only questions about
// the listed names (anything else gets REFUSED, so DNS cannot carry data out either), forwards those to the
// host's resolvers, and has the answer's addresses admitted to the machine's egress filter before the guest
// sees the answer: the connection that follows a lookup is allowed, exactly to the addresses it was given.
// It listens on a loopback address of the machine's own (slirp4netns or qemu's slirp forward the guest's 10.0.2.3 there).
import dgram from 'node:dgram';
import net from 'node:net';
import { errorReply, parseAnswer, parseQuery, RCODE_REFUSED, RCODE_SERVFAIL, type DnsAnswer } from './dns-message.js';
import { DNS_PORT } from './egress-bpf.js';

/** Queries one machine may have in flight; more are dropped (the guest's resolver retries). */
const MAX_IN_FLIGHT = 32;
/** Queries one machine may send per second: a flood costs the daemon's event loop, so the rest are dropped. */
const MAX_PER_SECOND = 200;
/** How long one upstream resolver gets to answer before the next is tried. */
const UPSTREAM_TIMEOUT_MS = 2_000;

export interface DnsGateOptions {
  /** The loopback address to listen on (port 53). */
  address: string;
  /** The host's resolvers, tried in order. */
  upstreams: string[];
  /** Whether a question about this name (lower case, no root dot) may be answered. */
  allows(name: string): boolean;
  /** Admits an answer's addresses to the machine's filter; the answer is relayed once it resolves. */
  admit(name: string, addresses: DnsAnswer['addresses']): Promise<void>;
}

export class DnsGate {
  private inFlight = 0;
  private closed = false;
  /** Queries in the current one-second window, and when it began. */
  private window = { start: 0, count: 0 };

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly opts: DnsGateOptions,
  ) {
    socket.on('message', (msg, from) => void this.handle(msg, from));
    socket.on('error', () => undefined); // a send to a client that went away
  }

  /** Listens on `address`:53; rejects with EADDRINUSE when another process has it. */
  static open(opts: DnsGateOptions): Promise<DnsGate> {
    const socket = dgram.createSocket(net.isIPv6(opts.address) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(DNS_PORT, opts.address, () => {
        socket.removeListener('error', reject);
        resolve(new DnsGate(socket, opts));
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private async handle(msg: Buffer, from: dgram.RemoteInfo): Promise<void> {
    const now = Date.now();
    if (now - this.window.start >= 1000) this.window = { start: now, count: 0 };
    if (++this.window.count > MAX_PER_SECOND || this.inFlight >= MAX_IN_FLIGHT) return;
    const question = parseQuery(msg);
    if (!question) return; // not a query we answer: silence, as for garbage
    this.inFlight++;
    try {
      let reply: Buffer;
      if (!this.opts.allows(question.name)) reply = errorReply(msg, question, RCODE_REFUSED);
      else {
        const answer = await this.forward(msg, question.id, question.name, question.type);
        if (answer) await this.opts.admit(question.name, answer.parsed.addresses);
        reply = answer?.raw ?? errorReply(msg, question, RCODE_SERVFAIL);
      }
      if (!this.closed) this.socket.send(reply, from.port, from.address);
    } catch {
      // The filter could not take the answer: the guest must not get addresses it cannot reach.
      if (!this.closed) this.socket.send(errorReply(msg, question, RCODE_SERVFAIL), from.port, from.address);
    } finally {
      this.inFlight--;
    }
  }

  /** The first upstream's answer to exactly this question, or undefined when none answers in time. */
  private async forward(query: Buffer, id: number, name: string, type: number): Promise<{ raw: Buffer; parsed: DnsAnswer } | undefined> {
    for (const upstream of this.opts.upstreams) {
      const answer = await askOnce(upstream, query, (raw) => {
        const parsed = parseAnswer(raw);
        return parsed && parsed.id === id && parsed.question.name === name && parsed.question.type === type ? parsed : undefined;
      });
      if (answer) return answer;
    }
    return undefined;
  }
}

/** Sends `query` from a fresh socket (a random source port) and waits for a reply `match` accepts. */
function askOnce(upstream: string, query: Buffer, match: (raw: Buffer) => DnsAnswer | undefined): Promise<{ raw: Buffer; parsed: DnsAnswer } | undefined> {
  const socket = dgram.createSocket(net.isIPv6(upstream) ? 'udp6' : 'udp4');
  let settled = false;
  return new Promise((resolve) => {
    const done = (result: { raw: Buffer; parsed: DnsAnswer } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), UPSTREAM_TIMEOUT_MS);
    socket.on('error', () => done(undefined));
    socket.on('message', (raw, from) => {
      if (from.address !== upstream || from.port !== DNS_PORT) return;
      const parsed = match(raw);
      if (parsed) done({ raw, parsed });
    });
    socket.send(query, DNS_PORT, upstream);
  });
}
