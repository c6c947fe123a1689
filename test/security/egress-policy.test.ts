// Issue 14: egress under policy, through a real daemon (`aegis run --network`), against a fake internet in
// a network namespace of its own (support/fake-internet.ts). Each attack is a destination a guest must not
// reach: the host's loopback (where the router and every local service listen), private addresses (the
// LAN), DNS servers other than the machine's own, and, under an allow-list, anything it does not name.
// The daemon runs with an /etc/resolv.conf of the test's (a mount namespace of its own), naming the fake
// internet's DNS server: that is where its machines' lookups go.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestNetworkSupport } from '../../src/vmm/sandbox/guest-network.js';
import { egressFilterSupport } from '../../src/vmm/network/egress-filter.js';
import { AEGIS_BIN, ON_QEMU, scaled, withTempHome, type TempHome } from '../support/temp-home.js';
import { fakeInternet, type FakeInternet } from './support/fake-internet.js';

const supported = ON_QEMU ? egressFilterSupport() : guestNetworkSupport();

/** Starts the daemon in a mount namespace where /etc/resolv.conf names `nameserver`. */
function upWithResolver(t: TempHome, nameserver: string): Promise<number | null> {
  const resolv = path.join(t.home, 'resolv.conf');
  fs.writeFileSync(resolv, `nameserver ${nameserver}\n`);
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, process.execPath, AEGIS_BIN, 'up'], { env: t.env, stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', resolve));
}

/** One line per probe, `LABEL: BODY` or `LABEL: blocked`, all probes at once (a blocked one may wait out its timeout). */
function probes(list: [label: string, command: string][]): string {
  return list.map(([label, command]) => `(r=$(timeout 3 ${command} 2>/dev/null) && echo "${label}: $r" || echo "${label}: blocked") &`).join('\n') + '\nwait';
}

/** A probe that prints the status line of any HTTP answer, 4xx included (the router answers 404 or 421). */
const httpStatus = (host: string, port: number) => `sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc ${host} ${port} | grep -m1 HTTP"`;

/** The probe lines of a run, as label → outcome. */
function outcomes(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2).trim()]));
}

describe.skipIf(!supported.supported)(`egress policy (${supported.detail})`, { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let inet: FakeInternet;
  let loopback: http.Server;
  let loopbackPort: number;
  let loopbackHits = 0;
  let routerPort: number;

  const run = async (network: string | undefined, script: string) => {
    const r = await t.aegis(['run', ...(network ? ['--network', network] : []), '--', 'sh', '-c', script], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const hitsOn = (address: string) => inet.hits().filter((h) => h.startsWith(`${address}:`));

  beforeAll(async () => {
    inet = await fakeInternet();
    // An HTTP server, so that wget would print its answer if it got one.
    loopback = http.createServer((_req, res) => {
      loopbackHits++;
      res.end('hello from the host\n');
    });
    await new Promise<void>((r) => loopback.listen(0, '127.0.0.1', r));
    loopbackPort = (loopback.address() as net.AddressInfo).port;
    t = withTempHome();
    expect(await upWithResolver(t, inet.dns)).toBe(0);
    const warm = await t.aegis(['run', '--', 'true'], { timeoutMs: 120_000 });
    expect(warm.code, warm.stderr).toBe(0);
    routerPort = Number(new URL((await t.api('GET', '/v1/status')).body.router).port);
  }, scaled(150_000));

  afterAll(async () => {
    await t?.dispose();
    loopback?.close();
    inet?.close();
  }, scaled(60_000));

  it('reaches a public server, by address and by name (DNS through the host\'s resolver)', async () => {
    const out = outcomes(await run(undefined, probes([
      ['address', `wget -qO- http://${inet.publicA}/`],
      ['name', 'wget -qO- http://api.aegis-egress.example:8080/'],
    ])));
    expect(out).toEqual({ address: `hello from ${inet.publicA}:80`, name: `hello from ${inet.publicA}:8080` });
  });

  it("cannot reach the host's loopback (a local server, the router), private addresses, or a DNS server on the LAN", async () => {
    const before = hitsOn(inet.privateA).length;
    const stdout = await run(undefined, probes([
      // The guest's own loopback: lo inside the machine, never the host's.
      ['host-loopback', `wget -qO- http://127.0.0.1:${loopbackPort}/`],
      ['router', httpStatus('127.0.0.1', routerPort)],
      // The gateway: the host's loopback for slirp without --disable-host-loopback (qemu's). The filter refuses it too.
      ['gateway-loopback', `wget -qO- http://10.0.2.2:${loopbackPort}/`],
      ['gateway-router', httpStatus('10.0.2.2', routerPort)],
      ['private', `wget -qO- http://${inet.privateA}/`],
      ['private-dns', `nslookup api.aegis-egress.example ${inet.privateA}`],
      ['public', `wget -qO- http://${inet.publicB}/`],
    ]) + `\ntest -e ${t.home}/aegisd.sock && echo "daemon-socket: visible" || echo "daemon-socket: absent"`);
    expect(outcomes(stdout)).toEqual({
      'host-loopback': 'blocked',
      router: 'blocked',
      'gateway-loopback': 'blocked',
      'gateway-router': 'blocked',
      private: 'blocked',
      'private-dns': 'blocked',
      public: `hello from ${inet.publicB}:80`,
      'daemon-socket': 'absent',
    });
    expect(loopbackHits).toBe(0);
    expect(hitsOn(inet.privateA).length).toBe(before);
  });

  it('has no network device at all with --network none', async () => {
    const stdout = await run('none', `ls /sys/class/net; echo "routes: $(tail -n +2 /proc/net/route | wc -l)"; ${probes([['public', `wget -qO- http://${inet.publicA}/`]])}`);
    expect(stdout.split('\n').filter((l) => /^\w+$/.test(l))).toEqual(['lo']);
    expect(outcomes(stdout)).toEqual({ routes: '0', public: 'blocked' });
  });

  it('admits exactly the listed addresses and ports, private ones included, and answers no DNS', async () => {
    const before = hitsOn(inet.dns).length;
    const out = outcomes(await run(`${inet.publicA}:80,${inet.privateA}`, probes([
      ['listed-port', `wget -qO- http://${inet.publicA}/`],
      ['other-port', `wget -qO- http://${inet.publicA}:8080/`],
      ['unlisted-public', `wget -qO- http://${inet.publicB}/`],
      ['listed-private', `wget -qO- http://${inet.privateA}/`],
      ['unlisted-private', `wget -qO- http://${inet.privateB}/`],
      ['dns', 'nslookup api.aegis-egress.example'],
      ['direct-dns', `nslookup api.aegis-egress.example ${inet.dns}`],
    ])));
    expect(out).toEqual({
      'listed-port': `hello from ${inet.publicA}:80`,
      'other-port': 'blocked',
      'unlisted-public': 'blocked',
      'listed-private': `hello from ${inet.privateA}:80`,
      'unlisted-private': 'blocked',
      dns: 'blocked',
      'direct-dns': 'blocked',
    });
    expect(hitsOn(inet.dns).length).toBe(before);
  });

  it("admits a listed name's public answers only, and answers no other name", async () => {
    const before = hitsOn(inet.dns).length;
    const privateBefore = hitsOn(inet.privateA).length;
    const stdout = await run(
      'api.aegis-egress.example:80,*.cdn.aegis-egress.example,lan.aegis-egress.example',
      // Lookups first: an address becomes reachable with the answer that names it.
      `nslookup lan.aegis-egress.example >/dev/null; nslookup other.aegis-egress.example >/dev/null 2>&1 && echo "other-lookup: answered" || echo "other-lookup: refused"
${probes([
  ['name', 'wget -qO- http://api.aegis-egress.example/'],
  ['name-other-port', 'wget -qO- http://api.aegis-egress.example:8080/'],
  ['wildcard', 'wget -qO- http://x.cdn.aegis-egress.example/'],
  ['private-answer', 'wget -qO- http://lan.aegis-egress.example/'],
  ['unlisted-address', `wget -qO- http://${inet.publicB}/`],
  ['direct-dns', `nslookup api.aegis-egress.example ${inet.dns}`],
])}`,
    );
    expect(outcomes(stdout)).toEqual({
      'other-lookup': 'refused',
      name: `hello from ${inet.publicA}:80`,
      'name-other-port': 'blocked',
      wildcard: `hello from ${inet.publicC}:80`,
      // The gate answered (the name is listed), but a private answer is not admitted to the filter.
      'private-answer': 'blocked',
      'unlisted-address': 'blocked',
      'direct-dns': 'blocked',
    });
    // Only the listed names reached the resolver, through the daemon's gate (other.… was refused before it).
    const asked = hitsOn(inet.dns).slice(before).map((h) => h.split(' ')[2]);
    expect(asked).toEqual(expect.arrayContaining(['api.aegis-egress.example', 'x.cdn.aegis-egress.example', 'lan.aegis-egress.example']));
    expect(asked).not.toContain('other.aegis-egress.example');
    expect(hitsOn(inet.privateA).slice(privateBefore)).toEqual([]);
  });

  it("keeps a served machine's policy across a daemon restart: the DNS gate comes back, the filter stays", async () => {
    const created = await t.api('POST', '/v1/instances', {
      command: ['httpd', '-f', '-p', '8080', '-h', '/etc'],
      expose: [8080],
      network: { egress: ['api.aegis-egress.example:80'] },
      idle: { pauseAfter: '1h', stopAfter: '1h' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const name = created.body.metadata.name as string;
    const check = async () =>
      outcomes((await t.aegis(['exec', name, '--', 'sh', '-c', probes([
        ['name', 'wget -qO- http://api.aegis-egress.example/'],
        ['unlisted', `wget -qO- http://${inet.publicB}/`],
      ])])).stdout);
    const expected = { name: `hello from ${inet.publicA}:80`, unlisted: 'blocked' };
    expect(await check()).toEqual(expected);
    const machineId = async () => (await t.api('GET', `/v1/instances/${created.body.metadata.uid}`)).body.status.machineId as string;
    const before = await machineId();
    expect((await t.aegis(['down'])).code).toBe(0);
    expect(await upWithResolver(t, inet.dns)).toBe(0);
    // The same machine, adopted: its slirp4netns ran on, and its lookups reach the new daemon's gate.
    expect(await check()).toEqual(expected);
    expect(await machineId()).toBe(before);
    expect((await t.api('DELETE', `/v1/instances/${created.body.metadata.uid}`)).status).toBeLessThan(300);
  });
});
