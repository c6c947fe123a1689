// Router abuse (issue 18): request smuggling forms (CL/TE conflicts, duplicate Content-Length, obs-fold, bad
// chunking), oversized headers, Host header tricks and path prefix confusion, sent as raw bytes to the real
// router in front of two apps whose servers answer differently and record every request they receive.
// Invariant: each attack is answered correctly or refused, and no request (above all, no smuggled one)
// ever reaches an app other than the one it was routed to. Slowloris is test/security/slowloris.test.ts.
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type RunningRouter } from '../../src/router/router.js';
import { FakeDirectory } from '../router/fake-directory.js';
import { FUZZ_TIMEOUT_MS, fuzzParams } from './support/fuzz.js';

interface Seen {
  app: string;
  method: string;
  url: string;
  host: string | undefined;
  body: string;
}

interface RecordingGuest {
  port: number;
  close(): Promise<void>;
}

const seen: Seen[] = [];

/** A guest server that answers `app=<name> url=<url>` and records each request it parsed, body included. */
async function recordingGuest(name: string): Promise<RecordingGuest> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ app: name, method: req.method ?? '', url: req.url ?? '', host: req.headers.host, body: Buffer.concat(chunks).toString() });
      res.end(`app=${name} url=${req.url}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

let web: RecordingGuest;
let api: RecordingGuest;
let router: RunningRouter;

beforeAll(async () => {
  web = await recordingGuest('web');
  api = await recordingGuest('api');
  const dir = new FakeDirectory();
  dir.add('web', { 80: web.port });
  dir.add('api', { 80: api.port });
  router = await startRouter(dir, { port: 0, headerTimeoutMs: 1_000 });
});

afterAll(async () => {
  await router?.close();
  await web?.close();
  await api?.close();
});

/** Sends raw bytes on one connection and collects everything until the router closes it (or `waitMs` passes). */
function exchange(bytes: string | Buffer, waitMs = 1_500): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect(router.port, '127.0.0.1', () => s.write(bytes));
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, waitMs);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('end', done);
    s.on('error', done);
  });
}

/** The status codes of every response in a raw reply, in order. */
const statuses = (reply: string): number[] => [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

/** What reached the guests during `attack`, once it settled. */
async function reached(attack: () => Promise<string>, settleMs = 100): Promise<{ reply: string; seen: Seen[] }> {
  const from = seen.length;
  const reply = await attack();
  await new Promise((r) => setTimeout(r, settleMs)); // a request the router sent late would land now
  return { reply, seen: seen.slice(from) };
}

const CRLF = '\r\n';
const req = (...lines: string[]): string => lines.join(CRLF);

// Each attack: the bytes, and the requests that may reach a guest (app and url; any other is a failure).
// The marker SMUGGLED must never reach a guest as a request of its own.
interface Attack {
  name: string;
  bytes: string;
  /** Requests a guest may see, as `app url`. */
  allowed: string[];
  /** Statuses the router may answer with, in order of the requests it answered. */
  statuses: number[][];
}

const smuggled = req('GET /app/api/SMUGGLED HTTP/1.1', 'Host: localhost', '', '');

const SMUGGLING: Attack[] = [
  {
    name: 'CL.TE: Content-Length and Transfer-Encoding both',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', `Content-Length: ${5 + smuggled.length}`, 'Transfer-Encoding: chunked', '', '0', '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'TE.CL: Transfer-Encoding first, then Content-Length',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding: chunked', 'Content-Length: 3', '', '0', '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'two different Content-Length headers',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Content-Length: 0', `Content-Length: ${smuggled.length}`, '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'a Content-Length list',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', `Content-Length: 0, ${smuggled.length}`, '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'Transfer-Encoding obfuscated (xchunked)',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding: xchunked', '', '0', '', smuggled),
    allowed: [],
    statuses: [[400], [501]],
  },
  {
    name: 'Transfer-Encoding: chunked, identity',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding: chunked, identity', '', '0', '', smuggled),
    allowed: [],
    statuses: [[400], [501]],
  },
  {
    name: 'Transfer-Encoding folded onto the next line (obs-fold)',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding:', ' chunked', `Content-Length: ${5 + smuggled.length}`, '', '0', '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'an obs-fold continuation of an ordinary header',
    bytes: req('GET /app/web/a HTTP/1.1', 'Host: localhost', 'X-Note: one', ' two', '', ''),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'whitespace before the colon of Transfer-Encoding',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding : chunked', `Content-Length: ${5 + smuggled.length}`, '', '0', '', smuggled),
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'a chunk size that overflows',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding: chunked', '', 'fffffffffffffffff1', 'x', '0', '', smuggled),
    allowed: ['web /a'],
    statuses: [[400], [400, 502], [502]],
  },
  {
    name: 'bare LF line endings',
    bytes: 'POST /app/web/a HTTP/1.1\nHost: localhost\nContent-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n' + smuggled,
    allowed: [],
    statuses: [[400]],
  },
  {
    name: 'a request hidden in a body is body, not a request',
    bytes: req('POST /app/web/a HTTP/1.1', 'Host: localhost', `Content-Length: ${smuggled.length}`, '', smuggled),
    allowed: ['web /a'],
    statuses: [[200]],
  },
  {
    name: 'pipelined requests for two apps each reach their own app',
    bytes: req('GET /app/web/first HTTP/1.1', 'Host: localhost', '', '') + req('GET /app/api/second HTTP/1.1', 'Host: localhost', 'Connection: close', '', ''),
    allowed: ['web /first', 'api /second'],
    statuses: [[200, 200]],
  },
];

describe('router: request smuggling forms', () => {
  for (const attack of SMUGGLING) {
    it(attack.name, async () => {
      const { reply, seen: got } = await reached(() => exchange(attack.bytes));
      const answered = statuses(reply);
      expect(attack.statuses, `the router answered ${JSON.stringify(answered)}: ${reply.slice(0, 200)}`).toContainEqual(answered);
      for (const s of got) {
        expect(s.url, 'a smuggled request reached a guest').not.toContain('SMUGGLED');
        expect(attack.allowed, `unexpected request at ${s.app}: ${s.method} ${s.url}`).toContain(`${s.app} ${s.url}`);
      }
      if (attack.statuses.every((st) => st.every((code) => code >= 400))) expect(got.filter((s) => !attack.allowed.includes(`${s.app} ${s.url}`))).toEqual([]);
    });
  }
});

describe('router: oversized headers', () => {
  it('a 64 KiB header, a 64 KiB request line and 2,000 small headers are refused, and no guest sees them', async () => {
    for (const bytes of [
      req('GET /app/web/big HTTP/1.1', 'Host: localhost', `X-Big: ${'a'.repeat(64 * 1024)}`, '', ''),
      req(`GET /app/web/${'a'.repeat(64 * 1024)} HTTP/1.1`, 'Host: localhost', '', ''),
      req('GET /app/web/many HTTP/1.1', 'Host: localhost', ...Array.from({ length: 4_000 }, (_, i) => `X-H${i}: ${'v'.repeat(8)}`), '', ''),
    ]) {
      const { reply, seen: got } = await reached(() => exchange(bytes));
      expect(statuses(reply)).toEqual([431]);
      expect(got).toEqual([]);
    }
    // And the router still serves.
    expect(statuses(await exchange(req('GET /app/api/ok HTTP/1.1', 'Host: localhost', 'Connection: close', '', '')))).toEqual([200]);
  });
});

describe('router: Host header tricks', () => {
  // [Host header value(s), path, what may answer]: `app` names the only app that may see it; null means refused.
  const cases: { hosts: string[]; path: string; app: 'web' | 'api' | null; status?: number }[] = [
    { hosts: ['web.localhost'], path: '/x', app: 'web' },
    { hosts: ['WEB.LocalHost.'], path: '/x', app: 'web' },
    { hosts: ['api.localhost:80'], path: '/x', app: 'api' },
    { hosts: ['web.localhost', 'api.localhost'], path: '/x', app: null, status: 400 },
    { hosts: ['web.localhost, api.localhost'], path: '/x', app: null },
    { hosts: ['api.localhost@web.localhost'], path: '/x', app: null },
    { hosts: ['web.localhost:80:80'], path: '/x', app: null, status: 400 },
    { hosts: ['web.localhost:80@api.localhost'], path: '/x', app: null },
    { hosts: ['api.web.localhost'], path: '/x', app: null, status: 404 },
    { hosts: ['web.localhost%2f..%2fapi.localhost'], path: '/x', app: null },
    { hosts: ['evil.example'], path: '/app/web/x', app: null, status: 421 },
    { hosts: [''], path: '/app/web/x', app: null, status: 400 },
    { hosts: ['web.localhost\u0000api.localhost'], path: '/x', app: null, status: 400 },
    // The Host chooses the app; a prefix naming another app is then only a path inside it.
    { hosts: ['web.localhost'], path: '/app/api/x', app: 'web' },
  ];
  for (const c of cases) {
    it(`Host ${JSON.stringify(c.hosts)} ${c.path} → ${c.app ?? `refused${c.status ? ` (${c.status})` : ''}`}`, async () => {
      const bytes = req(`GET ${c.path} HTTP/1.1`, ...c.hosts.map((h) => `Host: ${h}`), 'Connection: close', '', '');
      const { reply, seen: got } = await reached(() => exchange(bytes));
      const [status] = statuses(reply);
      if (c.app === null) {
        expect(status, reply.slice(0, 200)).toBeGreaterThanOrEqual(400);
        if (c.status) expect(status).toBe(c.status);
        expect(got).toEqual([]);
      } else {
        expect(status).toBe(200);
        expect(reply).toContain(`app=${c.app} `);
        expect(got.map((s) => s.app)).toEqual([c.app]);
      }
    });
  }

  it('an absolute-form target names its own host: never routed by a Host header that names another app', async () => {
    for (const [target, host] of [
      ['http://api.localhost/x', 'web.localhost'],
      ['http://api.localhost/x', 'localhost'],
      ['http://evil.example/app/api/x', 'web.localhost'],
    ]) {
      const { reply, seen: got } = await reached(() => exchange(req(`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close', '', '')));
      const [status] = statuses(reply);
      // Either refused, or answered by the app the target's own authority names (RFC 9112 §3.2.2).
      if (status === 200) expect(got.map((s) => s.app)).toEqual([new URL(target).hostname.split('.')[0]]);
      else {
        expect(status).toBe(400);
        expect(got).toEqual([]);
      }
    }
  });
});

describe('router: path prefix confusion', () => {
  // [path, the only app that may see it (null: refused), the path it then sees]
  const cases: [string, 'web' | 'api' | null, string?][] = [
    ['/app/web/a/../b/', 'web', '/a/../b/'],
    ['/app/web/../api/', 'web', '/../api/'],
    ['/app/web/%2e%2e/api/', 'web', '/%2e%2e/api/'],
    ['/app/../app/api/', null],
    ['/app/./api/', null],
    ['/app/%2e%2e/api/', null],
    ['/app/web%2f..%2fapi/', null],
    ['/app/web%2F../api/', null],
    ['/app//api/', null],
    ['//app/api/', null],
    ['/APP/api/', null],
    ['/app/api%00/', null],
    ['/app/ap%69/x', 'api', '/x'],
    ['/app/web?/../api/', null, undefined],
    ['/app/web#/../api/', null, undefined],
    ['/app/api;/x', null],
  ];
  for (const [path, app, guestPath] of cases) {
    it(`${path} → ${app ? `${app} ${guestPath}` : 'refused or redirected'}`, async () => {
      const { reply, seen: got } = await reached(() => exchange(req(`GET ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', '', '')));
      const [status] = statuses(reply);
      if (app === null) {
        // Not for any app: 4xx, or a redirect that keeps the name as written (to its own prefix, not another).
        if (status === 308) expect(reply).toMatch(/^location: \/app\/web\/(\?.*)?\r$/im);
        else expect(status, reply.slice(0, 200)).toBeGreaterThanOrEqual(400);
        expect(got).toEqual([]);
      } else {
        expect(status, reply.slice(0, 200)).toBe(200);
        expect(got.map((s) => `${s.app} ${s.url}`)).toEqual([`${app} ${guestPath}`]);
      }
    });
  }
});

// Generated requests: a path, Host headers, an X-Aegis-App header and framing headers built from pieces that
// each name or half-name an app, with a smuggled request as the body. Whatever the router makes of them, a
// request that reaches an app was named for it by the request itself (its Host, its /app/ prefix or its
// X-Aegis-App), and the smuggled one reaches nobody.
const NAMES = ['web', 'api', 'WEB', 'ap%69', 'web%2f..%2fapi', '..', '.', '', 'web.', 'api;x', 'web%00', 'api?', 'web#'];
const pathPiece = fc.constantFrom('app', 'APP', '', '.', '..', '%2e%2e', '%2F', 'x', ...NAMES);
const pathArb = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.array(pathPiece, { maxLength: 4 })).map(([name, rest]) => `/app/${name}/${rest.join('/')}`) },
  { weight: 2, arbitrary: fc.array(pathPiece, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`) },
);
const hostArb = fc.constantFrom('localhost', 'web.localhost', 'api.localhost', 'API.localhost.', 'web.localhost:1', 'evil.example', 'web.localhost, api.localhost', 'api.localhost@web.localhost', '', '[::1]', '127.0.0.1:80', 'x.web.localhost');
const framingArb = fc.constantFrom(
  [] as string[],
  ['Content-Length: BODY'],
  ['Transfer-Encoding: chunked'],
  ['Content-Length: BODY', 'Transfer-Encoding: chunked'],
  ['Content-Length: 0', 'Content-Length: BODY'],
  ['Transfer-Encoding: chunked, identity'],
  ['Transfer-Encoding:', ' chunked'],
);
const generated = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'OPTIONS'),
  path: fc.oneof({ weight: 5, arbitrary: pathArb }, { weight: 1, arbitrary: fc.constantFrom('*', 'http://api.localhost/x', 'api.localhost:80') }),
  hosts: fc.oneof({ weight: 2, arbitrary: fc.constant(['localhost']) }, { weight: 3, arbitrary: fc.array(hostArb, { maxLength: 2 }) }),
  appHeader: fc.option(fc.constantFrom(...NAMES, 'i-web', 'i-api'), { nil: undefined }),
  framing: framingArb,
});

/** The app names a request carries, by each of the ways the router may pick one. */
function namedBy(r: { path: string; hosts: string[]; appHeader?: string }): Set<string> {
  const names = new Set<string>();
  for (const h of r.hosts) {
    const name = h.trim().toLowerCase().replace(/:\d*$/, '').replace(/\.$/, '');
    if (name.endsWith('.localhost')) names.add(name.slice(0, -'.localhost'.length));
  }
  const m = /^\/app\/([^/?]*)/.exec(r.path);
  if (m) {
    try {
      names.add(decodeURIComponent(m[1]!));
    } catch {
      names.add(m[1]!);
    }
  }
  if (r.appHeader !== undefined) names.add(r.appHeader.trim().replace(/^i-/, ''));
  return names;
}

describe('router: generated requests', () => {
  it('a request reaches only an app it names itself, and a smuggled one reaches none', async () => {
    await fc.assert(
      fc.asyncProperty(generated, async (r) => {
        const chunkedBody = `0\r\n\r\n${smuggled}`;
        const body = r.framing.some((f) => f.includes('chunked')) ? chunkedBody : r.framing.length ? smuggled : '';
        const framing = r.framing.map((f) => f.replace('BODY', String(body.length)));
        const head = [`${r.method} ${r.path} HTTP/1.1`, ...r.hosts.map((h) => `Host: ${h}`), ...(r.appHeader !== undefined ? [`X-Aegis-App: ${r.appHeader}`] : []), ...framing, 'Connection: close'];
        const { seen: got } = await reached(() => exchange(req(...head, '', body), 400), 30);
        const named = namedBy(r);
        for (const s of got) {
          expect(s.url, `${JSON.stringify(r)}: a smuggled request reached ${s.app}`).not.toContain('SMUGGLED');
          expect([...named], `${JSON.stringify(r)} reached ${s.app} as ${s.url}`).toContain(s.app);
        }
        expect(got.length).toBeLessThanOrEqual(1);
      }),
      fuzzParams('router: generated requests', 100),
    );
  }, FUZZ_TIMEOUT_MS);
});

