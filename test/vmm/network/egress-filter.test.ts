// The qemu egress filter: a process in the filtered cgroup cannot reach loopback or private addresses
// (EPERM from the connect and sendmsg hooks), DNS on port 53 stays reachable, and the rest of the host is
// unaffected. Probes run in child processes; every server binds to loopback only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAddressCidrs, isBlockedDestination, parseCidr, type EgressPolicy } from '../../../src/vmm/network/egress-bpf.js';
import { attachedEgressFilters, egressFilterSupport, ensureEgressCgroup, joinCgroup, removeEgressCgroup } from '../../../src/vmm/network/egress-filter.js';
import { removeCgroup } from '../../../src/vmm/remove-cgroup.js';

describe('egress address ranges', () => {
  it('matches addresses by prefix, in every v6 form of a v4 range, with port 53 open only on the resolvers', () => {
    expect(parseCidr('172.16.0.0/12')).toEqual({ bytes: Uint8Array.from([172, 16, 0, 0]), prefix: 12 });
    expect(parseCidr('fe80::/10').bytes[0]).toBe(0xfe);
    expect(() => parseCidr('10.0.0.0/33')).toThrow('bad CIDR');
    for (const a of ['127.0.0.1', '10.1.2.3', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', '::2', 'fd00::2', 'fe80::1', 'fec0::1', '2001:db8::1', '::ffff:127.0.0.1', '::ffff:a00:1', '64:ff9b::a00:1', '2002:7f00:1::1'])
      expect(isBlockedDestination(a, 80), a).toBe(true);
    for (const a of ['8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])
      expect(isBlockedDestination(a, 80), a).toBe(false);
    const policy = { blocked: [], resolvers: ['127.0.0.53', '10.0.0.2'] };
    expect(isBlockedDestination('127.0.0.53', 53, policy)).toBe(false);
    expect(isBlockedDestination('::ffff:10.0.0.2', 53, policy)).toBe(false);
    expect(isBlockedDestination('127.0.0.53', 80, policy)).toBe(true);
    expect(isBlockedDestination('127.0.0.1', 53, policy)).toBe(true);
    expect(isBlockedDestination('8.8.8.8', 53, policy)).toBe(false);
  });
});

interface Probe {
  kind: 'tcp' | 'udp-connect' | 'udp-send';
  host: string;
  port: number;
}

// Runs each probe in order and prints one result per probe: OK, TIMEOUT or the error code. UDP connect sends
// nothing, so it can ask the connect hook about any address without touching the network.
const PROBE_SCRIPT = `
import net from 'node:net';
import dgram from 'node:dgram';
const probes = JSON.parse(process.env.PROBES);
const family = (host) => (net.isIPv6(host) ? 'udp6' : 'udp4');
function tcp({ host, port }) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (r) => { s.destroy(); resolve(r); };
    s.setTimeout(700, () => done('TIMEOUT'));
    s.once('connect', () => done('OK'));
    s.once('error', (e) => done(e.code));
  });
}
function udp({ kind, host, port }) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(family(host));
    const done = (e) => { s.close(); resolve(e ? e.code : 'OK'); };
    s.once('error', done);
    if (kind === 'udp-connect') s.connect(port, host, done);
    else s.send('x', port, host, done);
  });
}
async function run() {
  const out = [];
  for (const p of probes) out.push(p.kind === 'tcp' ? await tcp(p) : await udp(p));
  process.stdout.write(JSON.stringify(out));
}
if (process.env.WAIT_FOR_STDIN) process.stdin.once('data', () => { process.stdin.pause(); run(); });
else run();
`;

function collect(child: ReturnType<typeof spawn>): Promise<string[]> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`probe exited ${code}: ${err}`))));
  });
}

/** Runs the probes in a child that joins `cgroupDir` (when given) before its first instruction. */
function probe(probes: Probe[], cgroupDir?: string): Promise<string[]> {
  const env = { ...process.env, PROBES: JSON.stringify(probes) };
  const args = ['--input-type=module', '-e', PROBE_SCRIPT];
  const child = cgroupDir
    ? spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroupDir, process.execPath, ...args], { env })
    : spawn(process.execPath, args, { env });
  return collect(child);
}

const support = egressFilterSupport();

describe.skipIf(!support.supported)(`egress filter (${support.detail})`, () => {
  const name = `aegis-egress-test-${process.pid}`;
  // Resolvers of the test's own choosing, so that port 53 is checked open on them and shut elsewhere.
  const policy = { blocked: hostAddressCidrs(), resolvers: ['127.0.0.53', '10.9.9.9', 'fd00::53'] };
  let dir: string;
  const servers: net.Server[] = [];
  let port4: number;
  let port6: number;

  const listen = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const server = net.createServer((s) => s.destroy());
      servers.push(server);
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });

  beforeAll(async () => {
    dir = ensureEgressCgroup(name, policy);
    port4 = await listen('127.0.0.1');
    port6 = await listen('::1');
  });

  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    // The probes have exited, but the kernel may count the cgroup busy for a moment after.
    if (dir) await removeCgroup(dir);
  });

  it('attaches each hook once, however often it is ensured', () => {
    expect(ensureEgressCgroup(name, policy)).toBe(dir);
    expect(attachedEgressFilters(dir)).toEqual({
      aegis_egr4_conn: ['aegis_egr4_conn'],
      aegis_egr6_conn: ['aegis_egr6_conn'],
      aegis_egr4_send: ['aegis_egr4_send'],
      aegis_egr6_send: ['aegis_egr6_send'],
      aegis_egr_sock: ['aegis_egr_sock'],
    });
  });

  it('refuses loopback inside the cgroup, not outside; keeps public addresses', async () => {
    const probes: Probe[] = [
      { kind: 'tcp', host: '127.0.0.1', port: port4 },
      { kind: 'tcp', host: '::1', port: port6 },
      { kind: 'tcp', host: '::ffff:127.0.0.1', port: port4 },
      { kind: 'udp-send', host: '127.0.0.1', port: port4 },
      { kind: 'udp-send', host: '::1', port: port6 },
      { kind: 'udp-send', host: '::ffff:127.0.0.1', port: port4 },
      { kind: 'udp-connect', host: '127.0.0.1', port: port4 },
      { kind: 'tcp', host: '8.8.8.8', port: 9 },
    ];
    // The child is moved in by joinCgroup while it waits, before it opens any socket.
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT], {
      env: { ...process.env, PROBES: JSON.stringify(probes), WAIT_FOR_STDIN: '1' },
    });
    const inside = collect(child);
    joinCgroup(dir, child.pid!);
    expect(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toContain(`0::/${name}\n`);
    child.stdin.end('go\n');
    const [tcp4, tcp6, tcpMapped, send4, send6, sendMapped, udpConnect, publicAddr] = await inside;
    expect({ tcp4, tcp6, tcpMapped, send4, send6, sendMapped, udpConnect }).toEqual({
      tcp4: 'EPERM',
      tcp6: 'EPERM',
      tcpMapped: 'EPERM',
      send4: 'EPERM',
      send6: 'EPERM',
      sendMapped: 'EPERM',
      udpConnect: 'EPERM',
    });
    expect(publicAddr).not.toBe('EPERM');

    const outside = await probe(probes.slice(0, 7));
    expect(outside).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK']);
  });

  it('lets the cgroup make TCP and UDP sockets only: no ICMP echo ("ping") or raw sockets, which no address hook sees', async () => {
    // socket(2) through koffi, in a network namespace whose ping_group_range admits every group (systemd's
    // default admits root's): outside the cgroup each kind is made, inside only TCP and UDP.
    const script = `
      import koffi from 'koffi';
      const socket = koffi.load('libc.so.6').func('int socket(int, int, int)');
      const kinds = { tcp: [2, 1, 6], udp: [2, 2, 17], tcp6: [10, 1, 6], udp6: [10, 2, 17], ping: [2, 2, 1], ping6: [10, 2, 58], raw: [2, 3, 1], rawUdp: [2, 3, 17], sctp: [2, 1, 132] };
      const out = {};
      for (const [kind, args] of Object.entries(kinds)) out[kind] = socket(...args) >= 0 ? 'OK' : koffi.errno() === 1 ? 'EPERM' : 'errno ' + koffi.errno();
      process.stdout.write(JSON.stringify(out));`;
    const run = (cgroupDir: string) =>
      new Promise<Record<string, string>>((resolve, reject) => {
        const setup = `ip link set lo up && echo "0 4294967294" > /proc/sys/net/ipv4/ping_group_range && { [ -z "$0" ] || echo $$ > "$0/cgroup.procs"; } && exec "$@"`;
        const child = spawn('unshare', ['--net', '--', 'sh', '-c', setup, cgroupDir, process.execPath, '--input-type=module', '-e', script], { cwd: process.cwd() });
        void collect(child).then((r) => resolve(r as unknown as Record<string, string>), reject);
      });
    const outside = await run('');
    expect(Object.entries(outside).filter(([k, v]) => v !== 'OK' && k !== 'sctp')).toEqual([]);
    const inside = await run(dir);
    expect(inside).toMatchObject({ tcp: 'OK', udp: 'OK', tcp6: 'OK', udp6: 'OK', ping: 'EPERM', ping6: 'EPERM', raw: 'EPERM', rawUdp: 'EPERM' });
    // SCTP (where the kernel has it) would not be filtered by the UDP hook either.
    expect(inside.sctp).not.toBe('OK');
  });

  it('decides every range boundary the way the address table says', async () => {
    const v4 = [
      '0.0.0.1', '1.0.0.0', '9.255.255.255', '10.0.0.0', '10.255.255.255', '11.0.0.0', '100.63.255.255', '100.64.0.0',
      '100.127.255.255', '100.128.0.0', '126.255.255.255', '127.0.0.1', '127.255.255.254', '128.0.0.0', '169.253.255.255',
      '169.254.0.1', '169.254.255.255', '169.255.0.0', '172.15.255.255', '172.16.0.0', '172.31.255.255', '172.32.0.0',
      '192.167.255.255', '192.168.0.0', '192.168.255.255', '192.169.0.0', '198.51.100.1', '8.8.8.8', '223.255.255.255',
      '224.0.0.251', '239.255.255.255', '240.0.0.1', '255.255.255.255', '168.63.129.16', '168.63.129.17', '192.0.0.192', '192.0.1.1',
      '198.17.255.255', '198.18.0.1', '198.19.255.255', '198.20.0.0', '203.0.113.9', '192.0.2.200',
    ];
    const v6 = ['::', '::1', '::2', 'fbff::1', 'fc00::1', 'fdff:ffff::1', 'fe00::1', 'fe80::1', 'febf:ffff::1', 'fec0::1', 'feff::1', 'ff02::1', '2001:db8::1', '2001:db9::1', '64:ff9b::a00:1', '64:ff9b::808:808', '2002:c0a8:101::1', '2002:808:808::1', '2606:4700::1111'];
    const hosts = [...v4, ...v4.map((a) => `::ffff:${a}`), ...v6, ...policy.resolvers, '127.0.0.54', '10.9.9.8', 'fd00::54'];
    const probes: Probe[] = [...hosts.map((host) => ({ kind: 'udp-connect' as const, host, port: 80 })), ...hosts.map((host) => ({ kind: 'udp-connect' as const, host, port: 53 }))];
    const results = await probe(probes, dir);
    const decided = probes.map((p, i) => `${p.host} ${p.port} ${results[i] === 'EPERM' ? 'blocked' : 'allowed'}`);
    const expected = probes.map((p) => `${p.host} ${p.port} ${isBlockedDestination(p.host, p.port, policy) ? 'blocked' : 'allowed'}`);
    expect(decided).toEqual(expected);
  });
});

describe.skipIf(!support.supported)('egress filter with an allow-list', () => {
  const name = `aegis-egress-allow-${process.pid}`;
  let dir: string | undefined;

  afterAll(async () => {
    if (dir) await removeEgressCgroup(dir);
  });

  /** The kernel's decision for each probe (via UDP connect, which sends nothing) beside the model's. */
  async function decide(policy: EgressPolicy, targets: [string, number][]) {
    dir = ensureEgressCgroup(name, policy);
    const probes = targets.map(([host, port]) => ({ kind: 'udp-connect' as const, host, port }));
    const results = await probe(probes, dir);
    return {
      kernel: targets.map(([h, p], i) => `${h} ${p} ${results[i] === 'EPERM' ? 'blocked' : 'allowed'}`),
      model: targets.map(([h, p]) => `${h} ${p} ${isBlockedDestination(h, p, policy) ? 'blocked' : 'allowed'}`),
    };
  }

  it('lets through only what is listed (on its port), private ranges included, never the host', async () => {
    const policy: EgressPolicy = {
      blocked: ['192.0.2.2/32'],
      resolvers: ['127.83.1.2'],
      allowed: [{ cidr: '93.184.216.34/32', port: 443 }, { cidr: '10.1.0.0/16' }, { cidr: '127.0.0.0/8' }, { cidr: '192.0.2.0/24' }, { cidr: '2001:db8::/32', port: 80 }],
      allowedOnly: true,
    };
    const targets: [string, number][] = [
      ['93.184.216.34', 443], ['93.184.216.34', 80], ['93.184.216.35', 443], ['::ffff:93.184.216.34', 443], ['::ffff:93.184.216.34', 444],
      ['10.1.2.3', 5432], ['10.1.255.255', 1], ['10.2.0.1', 5432], ['::ffff:10.1.2.3', 22],
      // Listed, but the host's own: loopback and the host's address stay refused.
      ['127.0.0.1', 80], ['::ffff:127.0.0.1', 80], ['192.0.2.2', 80], ['192.0.2.3', 80],
      ['2001:db8::1', 80], ['2001:db8::1', 81], ['2606:4700::1111', 443], ['8.8.8.8', 53], ['127.83.1.2', 53], ['127.83.1.2', 54], ['::ffff:127.83.1.2', 53],
    ];
    const { kernel, model } = await decide(policy, targets);
    expect(kernel).toEqual(model);
    expect(kernel.filter((d) => d.endsWith('allowed')).map((d) => d.split(' ').slice(0, 2).join(' '))).toEqual([
      '93.184.216.34 443', '::ffff:93.184.216.34 443', '10.1.2.3 5432', '10.1.255.255 1', '::ffff:10.1.2.3 22', '192.0.2.3 80', '2001:db8::1 80', '127.83.1.2 53', '::ffff:127.83.1.2 53',
    ]);
  });

  it('replaces the program when the list grows, and refuses everything when nothing is allowed', async () => {
    const targets: [string, number][] = [['93.184.216.34', 443], ['1.1.1.1', 443], ['127.83.1.2', 53]];
    const nothing = await decide({ blocked: [], resolvers: [], allowed: [], allowedOnly: true }, targets);
    expect(nothing.kernel).toEqual(nothing.model);
    expect(nothing.kernel.every((d) => d.endsWith('blocked'))).toBe(true);
    const grown = await decide({ blocked: [], resolvers: [], allowed: [{ cidr: '1.1.1.1/32' }], allowedOnly: true }, targets);
    expect(grown.kernel).toEqual(['93.184.216.34 443 blocked', '1.1.1.1 443 allowed', '127.83.1.2 53 blocked']);
    // One program per hook, the old one detached.
    expect(Object.values(attachedEgressFilters(dir!)).every((names) => names.length === 1)).toBe(true);
  });
});
