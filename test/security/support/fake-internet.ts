// "The internet" for egress tests: a network namespace of its own, joined to the host by a veth pair, holding
// public-looking addresses with HTTP servers and a DNS server, and private ones beside them. Nothing of it is
// on the host's loopback or LAN, and the production block list stays as it is:
// - the public addresses come from 192.52.193.0/24 (AMT relay anycast), which IANA lists as globally
//   reachable: the filter lets it through like any public address. Each is a /32 host route over the veth,
//   so the host's real routing (and anything else on that range) is untouched while the test runs;
// - the documentation ranges (203.0.113/24 and the like) would not do: the filter blocks them, rightly;
// - the private addresses (10.201.N.0/24) stand for the LAN: blocked unless an allow-list names them.
// The host side of the veth is link-local (169.254.N.1/30). N comes from the test process's pid, so two test
// files can each have their own internet at once.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface FakeInternet {
  /** Public, serves HTTP on 80 and 8080: "hello from ADDRESS:PORT". */
  publicA: string;
  /** Public, serves HTTP on 80. */
  publicB: string;
  /** Public, serves HTTP on 80 (a wildcard name's answer). */
  publicC: string;
  /** Public, serves DNS on 53 (and HTTP on 80). */
  dns: string;
  /** Private (10/8), serves HTTP on 80 and DNS on 53. */
  privateA: string;
  /** Private, serves HTTP on 80. */
  privateB: string;
  /** The DNS server's zone: name → address (A records); other names get NXDOMAIN. */
  zone: Record<string, string>;
  /** What reached the servers so far: "ADDRESS:PORT http" per request, "ADDRESS:53 dns NAME" per query. */
  hits(): string[];
  close(): void;
}

// Runs inside the namespace: HTTP servers on the given address:port pairs and a DNS server (A records of the
// zone, NXDOMAIN otherwise) on the given addresses; prints one line per connection or query.
const SERVER = `
import http from 'node:http';
import dgram from 'node:dgram';
const { http: httpAt, dns: dnsAt, zone } = JSON.parse(process.env.FAKE_INTERNET);
const say = (line) => process.stdout.write(line + '\\n');
let pending = httpAt.length + dnsAt.length;
const up = () => { if (--pending === 0) say('ready'); };
for (const [host, port] of httpAt) {
  http.createServer((req, res) => { say(host + ':' + port + ' http'); res.end('hello from ' + host + ':' + port + '\\n'); }).listen(port, host, up);
}
function questionName(q) {
  let pos = 12, labels = [];
  while (q[pos]) { labels.push(q.toString('latin1', pos + 1, pos + 1 + q[pos])); pos += 1 + q[pos]; }
  return { name: labels.join('.').toLowerCase(), pos };
}
function answer(q) {
  const { name, pos } = questionName(q);
  const end = pos + 5, type = q.readUInt16BE(pos + 1);
  const addr = zone[name];
  const head = Buffer.from(q.subarray(0, end));
  head.writeUInt16BE(0x8180 | (addr ? 0 : 3), 2);
  head.writeUInt16BE(addr && type === 1 ? 1 : 0, 6);
  head.writeUInt16BE(0, 8); head.writeUInt16BE(0, 10);
  if (!addr || type !== 1) return head;
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(30, 6); rr.writeUInt16BE(4, 10);
  addr.split('.').forEach((b, i) => (rr[12 + i] = Number(b)));
  return Buffer.concat([head, rr]);
}
for (const host of dnsAt) {
  const s = dgram.createSocket('udp4');
  s.on('message', (q, from) => { try { say(host + ':53 dns ' + questionName(q).name); s.send(answer(q), from.port, from.address); } catch {} });
  s.bind(53, host, up);
}
`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function fakeInternet(): Promise<FakeInternet> {
  const n = process.pid % 250;
  const ns = `ae-inet-${process.pid}`;
  const [hostIf, nsIf] = [`aei${process.pid}h`, `aei${process.pid}n`];
  const base = 10 + (process.pid % 80) * 3;
  const publicA = `192.52.193.${base}`;
  const publicB = `192.52.193.${base + 1}`;
  const dns = `192.52.193.${base + 2}`;
  // A fourth address of the pid-derived block would overlap the next block: take one of .1-.9 instead.
  const publicC = `192.52.193.${1 + (process.pid % 9)}`;
  const privateA = `10.201.${n}.1`;
  const privateB = `10.201.${n}.2`;
  const addresses = [publicA, publicB, publicC, dns, privateA, privateB];
  const zone = {
    'api.aegis-egress.example': publicA,
    'other.aegis-egress.example': publicB,
    'x.cdn.aegis-egress.example': publicC,
    'lan.aegis-egress.example': privateA,
  };
  const cleanup = () => {
    try {
      ip('netns', 'del', ns); // takes the veth pair, and with it the host routes, along
    } catch {
      /* never made */
    }
  };
  cleanup();
  let server: ChildProcess | undefined;
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
    ip('addr', 'add', `169.254.${n}.1/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'addr', 'add', `169.254.${n}.2/30`, 'dev', nsIf);
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const a of addresses) {
      ip('-n', ns, 'addr', 'add', `${a}/32`, 'dev', nsIf);
      ip('route', 'replace', `${a}/32`, 'via', `169.254.${n}.2`, 'dev', hostIf);
    }
    const spec = {
      http: [[publicA, 80], [publicA, 8080], [publicB, 80], [publicC, 80], [dns, 80], [privateA, 80], [privateB, 80]],
      dns: [dns, privateA],
      zone,
    };
    server = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', SERVER], {
      env: { ...process.env, FAKE_INTERNET: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const hits: string[] = [];
    const lines = readline.createInterface({ input: server.stdout! });
    await new Promise<void>((resolve, reject) => {
      server!.once('exit', (code) => reject(new Error(`the fake internet's servers exited (${code})`)));
      lines.on('line', (line) => (line === 'ready' ? resolve() : hits.push(line)));
    });
    const child = server;
    return {
      publicA, publicB, publicC, dns, privateA, privateB, zone,
      hits: () => [...hits],
      close() {
        child.kill('SIGKILL');
        cleanup();
      },
    };
  } catch (err) {
    server?.kill('SIGKILL');
    cleanup();
    throw err;
  }
}
