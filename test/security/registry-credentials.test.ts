// Issue 21 item 7: a registry must not be able to send the stored login (from ~/.docker/config.json) to
// another host, make the daemon fetch URLs on other hosts (blind SSRF), or make it buffer a huge token.
// Fake registries on 127.0.0.1; "another host" is 127.0.0.2, a different loopback address.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, pushImage, type BuiltImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { withTempHome, type TempHome } from '../support/temp-home.js';

const USER = 'alice';
const PASSWORD = 'hunter2-secret';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

interface FakeServer {
  host: string;
  url: string;
  seen: Seen[];
  stop(): Promise<void>;
}

/** An HTTP server on `address` that records every request and answers with `handler`. */
async function fakeServer(address: string, handler: (req: http.IncomingMessage, res: http.ServerResponse, self: string) => void): Promise<FakeServer> {
  const seen: Seen[] = [];
  let self = '';
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', authorization: req.headers.authorization });
    req.resume();
    handler(req, res, self);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const host = `${address}:${(server.address() as { port: number }).port}`;
  self = `http://${host}`;
  return {
    host,
    url: self,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers every /v2/ request without the expected Authorization with a Bearer challenge naming `realm`. */
function challengeWith(realm: () => string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="fake"`, 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  };
}

describe('registry credentials stay with the registry', () => {
  let t: TempHome;
  let other: FakeServer;
  const servers: FakeServer[] = [];
  let registry: TestRegistry;
  let image: BuiltImage;

  /** Stores the login for `host` in the daemon's ~/.docker/config.json. */
  const login = (host: string) => {
    const config = path.join(t.env.HOME!, '.docker', 'config.json');
    const auths = fs.existsSync(config) ? JSON.parse(fs.readFileSync(config, 'utf8')).auths : {};
    auths[host] = { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') };
    fs.writeFileSync(config, JSON.stringify({ auths }));
  };
  const pull = (ref: string) => t.aegis(['image', 'pull', ref]);
  const serve = async (address: string, handler: Parameters<typeof fakeServer>[1]) => {
    const s = await fakeServer(address, handler);
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    t = withTempHome();
    // The daemon reads logins from $HOME/.docker/config.json: give it a home of its own.
    t.env.HOME = path.join(t.home, 'user');
    fs.mkdirSync(path.join(t.env.HOME, '.docker'), { recursive: true });
    // The "other host" records whatever reaches it; nothing should.
    other = await serve('127.0.0.2', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"token":"stolen"}');
    });
    registry = await startRegistry();
    image = await buildImage({ layers: [{ entries: [{ name: 'hello.txt', content: 'hello\n' }] }] });
    await pushImage(registry.url, 'test/img', '1', image);
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    for (const s of servers) await s.stop();
    await registry?.stop();
  });

  it('refuses a token realm on another host over plain HTTP, sending it nothing', async () => {
    const reg = await serve('127.0.0.1', challengeWith(() => `${other.url}/token`));
    login(reg.host);
    const r = await pull(`${reg.host}/test/img:1`);
    expect(other.seen).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(
      `error: registry ${reg.host}: its token realm ${other.url} is plain HTTP on another host (only HTTPS, or the registry's own host when it speaks plain HTTP); not asked\n`,
    );
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
  });

  it('does not follow a manifest redirect to another host', async () => {
    const reg = await serve('127.0.0.1', (req, res) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return;
      }
      res.writeHead(302, { location: `${other.url}/internal/admin?from=manifest` }).end();
    });
    login(reg.host);
    const r = await pull(`${reg.host}/test/img:1`);
    expect(other.seen).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`error: registry ${reg.host}: manifest 1 was redirected to ${other.url}, another origin; not followed\n`);
    // The login reached the registry itself, which asked for basic auth.
    expect(reg.seen.some((s) => s.authorization === BASIC)).toBe(true);
  });

  it('follows blob redirects to storage on the registry host without the Authorization header, but not to another plain-HTTP host', async () => {
    // Storage on the registry's own host (another port), which serves the real blobs from the real registry.
    const storage = await serve('127.0.0.1', (req, res) => {
      http.get(`${registry.url}${new URL(req.url!, 'http://x').pathname}`, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
    });
    let blobsTo = storage.url;
    const front = await serve('127.0.0.1', (req, res) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return;
      }
      if (req.url!.includes('/blobs/')) {
        res.writeHead(307, { location: `${blobsTo}${req.url}` }).end();
        return;
      }
      http.get(`${registry.url}${req.url}`, { headers: { accept: req.headers.accept ?? '' } }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
    });
    login(front.host);
    const ok = await pull(`${front.host}/test/img:1`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(storage.seen.length).toBeGreaterThan(0);
    expect(storage.seen.every((s) => s.authorization === undefined)).toBe(true);

    // Another image (blobs not cached yet) whose blobs the registry now sends to another host.
    await pushImage(registry.url, 'test/img2', '1', await buildImage({ layers: [{ entries: [{ name: 'other.txt', content: 'other\n' }] }] }));
    blobsTo = other.url;
    const r = await pull(`${front.host}/test/img2:1`);
    expect(other.seen).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^error: registry ${front.host}: blob sha256:[0-9a-f]{64} was redirected to ${other.url}, plain HTTP on another host \\(only HTTPS, .*\\); not followed\\n$`),
    );
  });

  it('refuses an oversized token answer without reading it whole', async () => {
    let sent = 0;
    let finished = false;
    const realm = await serve('127.0.0.1', (_req, res) => {
      // 256 MiB of "JSON" that never closes its string: a client that buffers it all would grow by that much.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      res.write('{"token":"');
      const pump = () => {
        while (sent < 256 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        finished = true;
        res.end('"}');
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    const reg = await serve('127.0.0.1', challengeWith(() => `${realm.url}/token`));
    login(reg.host);
    const r = await pull(`${reg.host}/test/img:1`);
    expect(finished).toBe(false);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`error: registry ${reg.host}: the token service answered more than the 65536 bytes accepted\n`);
    // The basic login may go to a realm on the registry's own host when the registry itself is plain HTTP.
    expect(realm.seen[0]?.authorization).toBe(BASIC);
  });
});
