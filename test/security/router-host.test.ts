// Issue 21 item 5, DNS rebinding: a page at http://rebind.attacker.example:8099/ whose name resolves to
// 127.0.0.1 is same-origin with whatever the router answers for it. The router must refuse every Host that is
// not a loopback name (or one the operator configured) before routing, and its 404 must not list what runs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type RunningRouter } from '../../src/router/router.js';
import { connect, readUntil, request } from '../router/client.js';
import { FakeDirectory, startGuest, type GuestServer } from '../router/fake-directory.js';

let web: GuestServer;
let secret: GuestServer;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  web = await startGuest('web');
  secret = await startGuest('payroll');
});
afterAll(async () => {
  await web.close();
  await secret.close();
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function served(hosts?: string[]): Promise<{ dir: FakeDirectory; r: RunningRouter }> {
  const dir = new FakeDirectory();
  dir.add('web', { 80: web.port });
  dir.add('payroll', { 80: secret.port });
  const r = await startRouter(dir, { port: 0, ...(hosts ? { hosts } : {}) });
  closers.push(() => r.close());
  return { dir, r };
}

describe('DNS rebinding: the router answers only loopback Host names', () => {
  it('refuses a rebound name with 421 by every way of choosing an app, and never reaches a guest', async () => {
    const { dir, r } = await served();
    const attacks: { path: string; headers: Record<string, string> }[] = [
      { path: '/app/payroll/', headers: { host: 'rebind.attacker.example' } },
      { path: '/app/payroll/', headers: { host: `rebind.attacker.example:${r.port}` } },
      { path: '/', headers: { host: `rebind.attacker.example:${r.port}`, 'x-aegis-app': 'payroll' } },
      // Names that merely contain or end like an allowed one.
      { path: '/app/payroll/', headers: { host: `localhost.attacker.example:${r.port}` } },
      { path: '/app/payroll/', headers: { host: `127.0.0.1.nip.io:${r.port}` } },
      { path: '/app/payroll/', headers: { host: `payroll.localhost.attacker.example` } },
    ];
    for (const { path, headers } of attacks) {
      const res = await request(r.port, path, { headers });
      expect(res.status, headers.host).toBe(421);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toContain('does not answer for Host');
      expect(res.body).not.toContain('payroll"'); // nothing of the guest's, only the refused Host
      expect(res.headers.connection).toBe('close');
    }
    // A WebSocket upgrade is refused the same way.
    const sock = await connect(r.port);
    sock.write(`GET /app/payroll/ws HTTP/1.1\r\nHost: rebind.attacker.example:${r.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
    expect(await readUntil(sock, 'DNS rebinding')).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n/);
    sock.destroy();
    // Two Host headers (400, RFC 9112 §3.2): the guest might trust the one the router did not check.
    const twice = await connect(r.port);
    twice.write(`GET /app/payroll/ HTTP/1.1\r\nHost: localhost\r\nHost: rebind.attacker.example\r\n\r\n`);
    expect(await readUntil(twice, '\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    twice.destroy();
    // A Host that is not host[:port] is not guessed at.
    expect((await request(r.port, '/app/payroll/', { headers: { host: 'localhost:80@rebind.attacker.example' } })).status).toBe(400);

    expect(dir.connects).toEqual([]);
    expect(dir.opened.size).toBe(0);
    expect(secret.connections()).toBe(0);
  });

  it('still answers localhost, *.localhost, 127.0.0.1, [::1] on any port, and names in router.hosts', async () => {
    const { dir, r } = await served(['aegis.lan']);
    const ok = [
      { path: '/app/web/', host: 'localhost' },
      { path: '/app/web/', host: `LocalHost:${r.port}` },
      { path: '/', host: `web.localhost:${r.port}` },
      { path: '/', host: 'web.localhost.' },
      { path: '/app/web/', host: `127.0.0.1:${r.port}` },
      { path: '/app/web/', host: '[::1]:80' },
      { path: '/app/web/', host: `aegis.lan:${r.port}` },
    ];
    for (const { path, host } of ok) {
      const res = await request(r.port, path, { headers: { host } });
      expect(res.status, host).toBe(200);
      expect(JSON.parse(res.body).app, host).toBe('web');
    }
    // Each answer above came from the guest; one pooled keep-alive upstream may carry them all, and only to web.
    expect(dir.connects.length).toBeGreaterThanOrEqual(1);
    expect(dir.connects.every((c) => c.instance === 'i-web')).toBe(true);
    // The configured name does not widen to its subdomains.
    expect((await request(r.port, '/app/web/', { headers: { host: 'x.aegis.lan' } })).status).toBe(421);
  });

  it('names only what was asked for on a 404, never the other served apps', async () => {
    const { r } = await served();
    for (const res of [
      await request(r.port, '/app/nope/'),
      await request(r.port, '/', { headers: { host: 'nope.localhost' } }),
      await request(r.port, '/', { headers: { accept: 'text/html' } }),
      await request(r.port, '/app/nope/', { headers: { accept: 'text/html' } }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body).not.toContain('payroll');
      expect(res.body).not.toMatch(/\bweb\b/);
    }
  });
});
