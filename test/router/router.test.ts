import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type RunningRouter } from '../../src/router/router.js';
import { connect, eventually, readUntil, request } from './client.js';
import { FakeDirectory, WakeTimeoutError, startGuest, type GuestServer } from './fake-directory.js';

let web: GuestServer;
let api: GuestServer;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  web = await startGuest('web');
  api = await startGuest('api');
});
afterAll(async () => {
  await web.close();
  await api.close();
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function routerFor(dir: FakeDirectory, wakeTimeoutMs?: number): Promise<RunningRouter> {
  const r = await startRouter(dir, { port: 0, wakeTimeoutMs });
  closers.push(() => r.close());
  return r;
}

function twoApps(): FakeDirectory {
  const dir = new FakeDirectory();
  dir.add('web', { 80: web.port });
  dir.add('api', { 8080: api.port });
  return dir;
}

const json = (body: string): { app: string; url: string; method: string; headers: Record<string, string> } => JSON.parse(body);

describe('router: choosing the app', () => {
  it('routes by Host: <app>.localhost[:port] and adds X-Forwarded-*', async () => {
    const dir = twoApps();
    const r = await routerFor(dir);
    const a = await request(r.port, '/echo?q=1', { headers: { host: `web.localhost:${r.port}` } });
    expect(a.status).toBe(200);
    const got = json(a.body);
    expect(got.app).toBe('web');
    expect(got.url).toBe('/echo?q=1');
    expect(got.headers['x-forwarded-host']).toBe(`web.localhost:${r.port}`);
    expect(got.headers['x-forwarded-proto']).toBe('http');
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(json((await request(r.port, '/', { headers: { host: 'api.localhost' } })).body).app).toBe('api');
    expect(dir.connects).toEqual([
      { instance: 'i-web', port: 80 },
      { instance: 'i-api', port: 8080 },
    ]);
  });

  it('routes by /app/<name>/ prefix, strips it, and redirects the bare prefix', async () => {
    const r = await routerFor(twoApps());
    const a = await request(r.port, '/app/api/v1/things?x=2', { method: 'POST', body: 'hi' });
    const got = json(a.body);
    expect(got.app).toBe('api');
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/v1/things?x=2');
    expect(got.headers['x-forwarded-prefix']).toBe('/app/api');
    expect(json((await request(r.port, '/app/web/')).body).url).toBe('/');
    const redirect = await request(r.port, '/app/web?x=1');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe('/app/web/?x=1');
  });

  it('routes by X-Aegis-App (name or instance id)', async () => {
    const r = await routerFor(twoApps());
    expect(json((await request(r.port, '/x', { headers: { 'x-aegis-app': 'api' } })).body).app).toBe('api');
    expect(json((await request(r.port, '/x', { headers: { 'x-aegis-app': 'i-web' } })).body).app).toBe('web');
  });

  it('sends everything to the only served app, and nothing when there are several', async () => {
    const one = new FakeDirectory();
    one.add('web', { 80: web.port });
    const r1 = await routerFor(one);
    expect(json((await request(r1.port, '/anything')).body).app).toBe('web');

    const r2 = await routerFor(twoApps());
    const res = await request(r2.port, '/anything');
    expect(res.status).toBe(404);
    expect(res.body).toContain('No app was chosen for this request.');
    expect(res.body).not.toMatch(/\bapi\b|\bweb\b/);
  });

  it('answers an unknown app with a 404 naming only that app, and never reaches another instance', async () => {
    const one = new FakeDirectory();
    one.add('web', { 80: web.port });
    const r = await routerFor(one);
    const choices: Record<string, string>[] = [{ host: 'nope.localhost' }, { 'x-aegis-app': 'nope' }];
    for (const headers of choices) {
      const res = await request(r.port, '/', { headers });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toContain('No app named "nope"');
      expect(res.body).not.toContain('web');
    }
    const prefixed = await request(r.port, '/app/nope/x', { headers: { accept: 'text/html,*/*' } });
    expect(prefixed.status).toBe(404);
    expect(prefixed.headers['content-type']).toMatch(/^text\/html/);
    expect(prefixed.body).toContain('No app named &#34;nope&#34;');
    expect(prefixed.body).not.toContain('web');
    // Host wins over everything else, even when it names nothing served.
    expect((await request(r.port, '/app/web/', { headers: { host: 'nope.localhost' } })).status).toBe(404);
    expect(one.connects).toEqual([]);
    expect(one.opened.size).toBe(0);
  });
});

describe('router: HTTP proxying', () => {
  it('keeps a client connection alive across requests and counts it once', async () => {
    const dir = twoApps();
    const r = await routerFor(dir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a = await request(r.port, '/one', { headers: { host: 'web.localhost' }, agent });
    const b = await request(r.port, '/two', { headers: { host: 'web.localhost' }, agent });
    expect(json(a.body).url).toBe('/one');
    expect(json(b.body).url).toBe('/two');
    expect(a.localPort).toBe(b.localPort);
    expect(dir.opened.get('i-web')).toBe(1);
    expect(dir.activities.get('i-web')).toBeGreaterThanOrEqual(1);
    expect(dir.closed.get('i-web') ?? 0).toBe(0);
    agent.destroy();
    await eventually(() => dir.closed.get('i-web') === 1);
  });

  it('reuses one keep-alive upstream across requests and closes it once idle', async () => {
    const guest = await startGuest('solo');
    closers.push(() => guest.close());
    const dir = new FakeDirectory();
    dir.add('solo', { 80: guest.port });
    const r = await startRouter(dir, { port: 0, upstreamIdleTimeoutMs: 300 });
    closers.push(() => r.close());
    // Fresh client connections each time: the pool is per instance and port, not per client.
    for (let i = 0; i < 5; i++) expect(json((await request(r.port, `/n${i}`)).body).url).toBe(`/n${i}`);
    expect(dir.connects.length).toBe(1);
    expect(guest.connections()).toBe(1);
    // Concurrent requests each get a stream of their own; the next round reuses them.
    const round = () => Promise.all([0, 1, 2, 3].map((i) => request(r.port, `/c${i}`)));
    for (const reply of await round()) expect(reply.status).toBe(200);
    const afterFirst = dir.connects.length;
    expect(afterFirst).toBeLessThanOrEqual(4);
    for (const reply of await round()) expect(reply.status).toBe(200);
    expect(dir.connects.length).toBe(afterFirst);
    await eventually(() => guest.connections() === 0);
  });

  it('connects afresh (the wake point) instead of reusing while the instance is not running', async () => {
    const dir = new FakeDirectory();
    dir.add('web', { 80: web.port });
    const r = await routerFor(dir);
    expect((await request(r.port, '/')).status).toBe(200);
    dir.asleep.add('i-web');
    expect((await request(r.port, '/')).status).toBe(200);
    expect((await request(r.port, '/')).status).toBe(200);
    expect(dir.connects.length).toBe(3);
  });

  it('sends a GET again on a fresh upstream when the guest closed the reused one under it, never a POST', async () => {
    // Answers the first request on each connection with keep-alive, then drops the connection on the next
    // one unanswered: what a guest whose keep-alive timeout fires just as the router reuses it looks like.
    let accepted = 0;
    const guest = net.createServer((s) => {
      accepted++;
      let answered = false;
      s.on('data', () => {
        if (answered) return void s.destroy();
        answered = true;
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
      s.on('error', () => {});
    });
    await new Promise<void>((done) => guest.listen(0, '127.0.0.1', done));
    closers.push(() => new Promise((done) => guest.close(() => done())));
    const dir = new FakeDirectory();
    dir.add('flaky', { 80: (guest.address() as net.AddressInfo).port });
    const r = await routerFor(dir);
    expect(await request(r.port, '/')).toMatchObject({ status: 200, body: 'ok' });
    expect(await request(r.port, '/')).toMatchObject({ status: 200, body: 'ok' });
    expect(accepted).toBe(2);
    const post = await request(r.port, '/', { method: 'POST', body: 'data' });
    expect(post.status).toBe(502);
    expect(accepted).toBe(2);
  });

  it('counts each client connection while it is open', async () => {
    const dir = twoApps();
    const r = await routerFor(dir);
    const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    await Promise.all(agents.map((agent) => request(r.port, '/', { headers: { host: 'api.localhost' }, agent })));
    expect(dir.opened.get('i-api')).toBe(3);
    agents[0].destroy();
    await eventually(() => dir.closed.get('i-api') === 1);
    agents[1].destroy();
    agents[2].destroy();
    await eventually(() => dir.closed.get('i-api') === 3);
  });

  it('streams a chunked response: the first event arrives before the response ends', async () => {
    const r = await routerFor(twoApps());
    const first = await new Promise<{ chunk: string; res: http.IncomingMessage }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: r.port, path: '/app/web/stream', agent: false }, (res) => {
        res.once('data', (d: Buffer) => resolve({ chunk: d.toString(), res }));
      });
      req.on('error', reject);
    });
    expect(first.res.headers['content-type']).toBe('text/event-stream');
    expect(first.res.headers['transfer-encoding']).toBe('chunked');
    expect(first.chunk).toBe('data: first\n\n');
    expect(first.res.complete).toBe(false);
    let rest = '';
    first.res.on('data', (d: Buffer) => (rest += d.toString()));
    const ended = new Promise((r2) => first.res.on('end', r2));
    web.release();
    await ended;
    expect(rest).toBe('data: second\n\n');
  });

  it('drops the guest stream when the client leaves mid-response', async () => {
    const guest = await startGuest('sse');
    closers.push(() => guest.close());
    const dir = new FakeDirectory();
    dir.add('sse', { 80: guest.port });
    const r = await routerFor(dir);
    const sock = await connect(r.port);
    sock.write('GET /stream HTTP/1.1\r\nHost: sse.localhost\r\n\r\n');
    await readUntil(sock, 'data: first');
    expect(guest.connections()).toBe(1);
    sock.destroy();
    await eventually(() => guest.connections() === 0);
    await eventually(() => dir.closed.get('i-sse') === 1);
  });

  it.each([
    ['chunked', false],
    ['content-length', true],
  ])('streams a 20 MB upload intact (%s)', async (_name, withLength) => {
    const r = await routerFor(twoApps());
    const size = 20 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const expected = createHash('sha256');
    for (let i = 0; i < 20; i++) expected.update(chunk);
    const result = await new Promise<string>((resolve, reject) => {
      const headers: Record<string, string | number> = { host: 'api.localhost' };
      if (withLength) headers['content-length'] = size;
      const req = http.request({ host: '127.0.0.1', port: r.port, path: '/upload', method: 'PUT', headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < 20) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    const got = JSON.parse(result) as { app: string; bytes: number; sha256: string };
    expect(got).toEqual({ app: 'api', bytes: size, sha256: expected.digest('hex') });
  });

  it('passes a WebSocket upgrade through and echoes raw bytes both ways', async () => {
    const dir = twoApps();
    const r = await routerFor(dir);
    const sock = await connect(r.port);
    sock.write('GET /app/web/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const head = await readUntil(sock, '\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain('X-Guest: web');
    sock.write('hello over ws');
    expect(await readUntil(sock, 'hello over ws')).toBe('hello over ws');
    expect(dir.opened.get('i-web')).toBe(1);
    sock.destroy();
    await eventually(() => dir.closed.get('i-web') === 1);
  });

  it('answers an upgrade for an unknown app with a 404', async () => {
    const r = await routerFor(twoApps());
    const sock = await connect(r.port);
    sock.write('GET / HTTP/1.1\r\nHost: nope.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const got = await readUntil(sock, 'served here');
    expect(got).toMatch(/^HTTP\/1\.1 404 /);
    sock.destroy();
  });
});

describe('router: waking', () => {
  it('waits for a waking instance and then forwards', async () => {
    const dir = new FakeDirectory();
    dir.add('web', { 80: web.port }, { delayMs: 300 });
    const r = await routerFor(dir, 5000);
    const res = await request(r.port, '/woke');
    expect(res.status).toBe(200);
    expect(json(res.body).url).toBe('/woke');
  });

  it('answers 503 with Retry-After when the router gives up waiting', async () => {
    const dir = new FakeDirectory();
    dir.add('web', { 80: web.port }, { delayMs: 2000 });
    const r = await routerFor(dir, 100);
    const res = await request(r.port, '/');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toContain('"web" is starting');
  });

  it('uses the directory Retry-After and serves an auto-refreshing page to browsers', async () => {
    const dir = new FakeDirectory();
    dir.add('web', { 80: web.port }, { fail: new WakeTimeoutError(7, 'still booting') });
    const r = await routerFor(dir);
    const res = await request(r.port, '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<meta http-equiv="refresh" content="7">');
  });

  it('answers 502 naming the cause when the stream cannot be opened', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const dir = new FakeDirectory();
    dir.add('web', { 80: closed });
    dir.add('api', { 8080: api.port }, { fail: new Error('machine failed to boot: out of memory') });
    const r = await routerFor(dir);
    const refused = await request(r.port, '/', { headers: { host: 'web.localhost' } });
    expect(refused.status).toBe(502);
    expect(refused.body).toMatch(/^Could not reach app "web" \(instance i-web\): .*ECONNREFUSED.*\n$/);
    const failed = await request(r.port, '/', { headers: { host: 'api.localhost' } });
    expect(failed.status).toBe(502);
    expect(failed.body).toBe('Could not reach app "api" (instance i-api): machine failed to boot: out of memory\n');
  });

  it('aborts the wait when the client goes away', async () => {
    const dir = new FakeDirectory();
    dir.add('web', { 80: web.port }, { delayMs: 5000 });
    let aborted = false;
    const original = dir.connect.bind(dir);
    dir.connect = (t, p, signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return original(t, p, signal);
    };
    const r = await routerFor(dir, 10_000);
    const sock = await connect(r.port);
    sock.write('GET / HTTP/1.1\r\nHost: web.localhost\r\n\r\n');
    await eventually(() => dir.connects.length === 1);
    sock.destroy();
    await eventually(() => aborted);
    await eventually(() => dir.closed.get('i-web') === 1);
  });
});
