// Issue 21 item 11, slowloris: 400 half-sent requests from one client were all held (daemon fds 29 → 429); the
// router shares the daemon's process. Half-sent requests must be closed after the header timeout, one client's
// connections are capped (so are all of them), and a normal request still succeeds meanwhile.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLimiter } from '../../src/router/connection-limiter.js';
import { startRouter } from '../../src/router/router.js';
import { readUntil } from '../router/client.js';
import { FakeDirectory, startGuest, type GuestServer } from '../router/fake-directory.js';
import { scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { httpGet } from '../support/http-get.js';

const PER_CLIENT = 40;
const TOTAL = 60;
const HEADER_TIMEOUT_MS = 1_000;

/** Opens a connection from `localAddress` (any 127/8 address is this host's) and sends `data`. */
function openFrom(port: number, localAddress: string, data: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.write(data);
      resolve(s);
    });
    s.resume(); // read what comes (a 408, the server's FIN), so a close on the server's side shows here too
    s.on('error', () => resolve(s)); // a refused connection is reset: that is an outcome, not a test error
  });
}

const getFrom = (url: string, localAddress: string) => httpGet(url, { localAddress });

const openSockets = (socks: net.Socket[]) => socks.filter((s) => !s.destroyed && !s.closed).length;

describe('slowloris against a real daemon', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let router: string;
  let pid: number;
  const fds = () => fs.readdirSync(`/proc/${pid}/fd`).length;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    fs.writeFileSync(
      path.join(t.home, 'config.yaml'),
      `router:\n  port: 0\n  headerTimeout: ${HEADER_TIMEOUT_MS}ms\n  maxConnectionsPerClient: ${PER_CLIENT}\n  maxConnections: ${TOTAL}\nidle:\n  pauseAfter: 10m\n`,
    );
    expect((await t.aegis(['up'])).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router;
    pid = Number(fs.readFileSync(path.join(t.home, 'data', 'aegisd.pid'), 'utf8'));
    // One served instance on the base rootfs, so "a normal request" is a real round trip to a guest.
    const created = await t.api('POST', '/v1/instances', { command: ['sh', '-c', 'mkdir -p /tmp/w && echo alive > /tmp/w/index.html && exec httpd -f -p 127.0.0.1:80 -h /tmp/w'], expose: [80] });
    expect(created.status).toBe(201);
    await waitFor(async () => (await getFrom(`${router}/`, '127.0.0.2')).body === 'alive\n', { what: 'the instance serving', timeoutMs: 20_000 });
  }, scaled(60_000));

  afterAll(async () => t?.dispose(), scaled(60_000));

  it('caps and then closes 300 half-sent requests from one client, while another client is served', async () => {
    const before = fds();
    const attack: net.Socket[] = [];
    const opened = Date.now();
    for (let i = 0; i < 300; i++) attack.push(await openFrom(Number(router.split(':').pop()), '127.0.0.1', 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: '));
    // Refused ones are reset at once; the admitted ones are held only until the header timeout.
    await waitFor(() => openSockets(attack) <= PER_CLIENT, { what: 'the per-client cap', timeoutMs: 2_000 });
    expect(fds() - before).toBeLessThanOrEqual(PER_CLIENT + 10);

    // Meanwhile another client still gets its answer from the guest.
    expect(await getFrom(`${router}/`, '127.0.0.2')).toMatchObject({ status: 200, body: 'alive\n' });

    // Every half-sent request is closed once the header timeout passes (Node checks about every 250 ms here).
    await waitFor(() => openSockets(attack) === 0, { what: 'half-sent requests closed', timeoutMs: HEADER_TIMEOUT_MS + 3_000 });
    expect(Date.now() - opened).toBeLessThan(HEADER_TIMEOUT_MS + 5_000);
    await waitFor(() => fds() <= before + 3, { what: 'the daemon fds back to where they were', timeoutMs: 3_000 });
    // And the attacking address is served again, like anyone.
    expect(await getFrom(`${router}/`, '127.0.0.1')).toMatchObject({ status: 200, body: 'alive\n' });
  });

  it('closes a request whose headers trickle in one byte at a time', async () => {
    const port = Number(router.split(':').pop());
    const sock = await openFrom(port, '127.0.0.1', 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    const trickle = setInterval(() => sock.writable && sock.write('x'), 100);
    const start = Date.now();
    const reply = await readUntil(sock, '\r\n\r\n', HEADER_TIMEOUT_MS + 3_000).finally(() => clearInterval(trickle));
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - start).toBeLessThan(HEADER_TIMEOUT_MS + 2_000);
    sock.destroy();
  });

  it('caps connections to the per-port listener too (raw TCP: no header to wait for, so the cap is its guard)', async () => {
    const inst = (await t.api('GET', '/v1/instances')).body.items[0] as { status: { endpoints: { hostPort: number }[] } };
    const hostPort = inst.status.endpoints[0]!.hostPort;
    const before = fds();
    const held: net.Socket[] = [];
    for (let i = 0; i < 150; i++) held.push(await openFrom(hostPort, '127.0.0.1', ''));
    await waitFor(() => openSockets(held) <= PER_CLIENT, { what: 'the per-client cap', timeoutMs: 2_000 });
    expect(fds() - before).toBeLessThanOrEqual(PER_CLIENT + 10);
    for (const s of held) s.destroy();
  });
});

describe('router timeouts that keep streaming working', () => {
  let guest: GuestServer;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    guest = await startGuest('web');
  });
  afterAll(async () => guest.close());
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });

  async function router(opts: { idleTimeoutMs?: number; requestTimeoutMs?: number; limiter?: ConnectionLimiter }) {
    const dir = new FakeDirectory();
    dir.add('web', { 80: guest.port });
    const r = await startRouter(dir, { port: 0, headerTimeoutMs: 500, ...opts });
    closers.push(() => r.close());
    return r;
  }

  it('closes an upgraded connection with no bytes either way for the idle timeout, not a busy one', async () => {
    const r = await router({ idleTimeoutMs: 600 });
    const open = async () => {
      const s = await openFrom(r.port, '127.0.0.1', 'GET /ws HTTP/1.1\r\nHost: web.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      await readUntil(s, '\r\n\r\n');
      return s;
    };
    const idle = await open();
    const busy = await open();
    const ping = setInterval(() => busy.write('.'), 150);
    try {
      await waitFor(() => idle.closed || idle.destroyed, { what: 'the idle socket closed', timeoutMs: 3_000 });
      expect(busy.destroyed).toBe(false);
    } finally {
      clearInterval(ping);
      busy.destroy();
    }
  });

  it('cuts a request body that trickles past the request timeout', async () => {
    const r = await router({ requestTimeoutMs: 800 });
    const s = await openFrom(r.port, '127.0.0.1', 'PUT /upload HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 1000\r\n\r\n');
    const drip = setInterval(() => s.writable && s.write('x'), 100);
    try {
      await waitFor(() => s.closed || s.destroyed || s.readableEnded, { what: 'the slow request cut', timeoutMs: 4_000 });
    } finally {
      clearInterval(drip);
      s.destroy();
    }
  });

  it('drops connections over the per-client cap at once', async () => {
    const r = await router({ limiter: new ConnectionLimiter({ total: 100, perClient: 5 }) });
    const socks: net.Socket[] = [];
    for (let i = 0; i < 12; i++) socks.push(await openFrom(r.port, '127.0.0.1', ''));
    await waitFor(() => openSockets(socks) === 5, { what: 'five held', timeoutMs: 2_000 });
    const other = await openFrom(r.port, '127.0.0.3', 'GET /app/web/ HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(await readUntil(other, '"app":"web"')).toMatch(/^HTTP\/1\.1 200 /);
    for (const s of [...socks, other]) s.destroy();
  });
});
