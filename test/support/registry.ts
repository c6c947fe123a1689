// A real OCI registry for image tests: Debian's `docker-registry` (distribution v2.8) on a free loopback port,
// plus a small token-auth front (the Docker Bearer flow) that proxies to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryRequest {
  method: string;
  /** The request path without its query string. */
  path: string;
  status?: number;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  storageDir: string;
  /** Every request the registry served so far, parsed from its access log (a line lands just after its response). */
  requests(): RegistryRequest[];
  /** Polls requests() until `pred` holds: the access log is written after the response is sent. */
  waitForRequests(pred: (reqs: RegistryRequest[]) => boolean, timeoutMs?: number): Promise<RegistryRequest[]>;
  clearRequests(): void;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  htpasswd?: { user: string; password: string };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd line (the registry accepts only bcrypt); cost 4 keeps each authenticated request fast. */
function htpasswdLine(user: string, password: string): string {
  return `${user}:${bcrypt.hashSync(password, 4)}\n`;
}

// Combined log format from the registry's access log: `IP - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "ua"`.
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) /;

function parseAccessLog(text: string): RegistryRequest[] {
  const out: RegistryRequest[] = [];
  for (const line of text.split('\n')) {
    const m = ACCESS_LINE.exec(line);
    if (!m) continue;
    out.push({ method: m[1], path: m[2].split('?')[0], status: Number(m[3]) });
  }
  return out;
}

async function pollUntil<T>(fn: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts one registry process on `port`; resolves once GET /v2/ answers, or rejects (with its log) if it exits. */
async function launch(dir: string, port: number, htpasswdFile: string | undefined): Promise<ChildProcess> {
  const storage = path.join(dir, 'storage');
  const auth = htpasswdFile ? `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${htpasswdFile}\n` : '';
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // An explicit secret silences the "no HTTP secret provided" warning in the log.
    `  secret: ${randomBytes(16).toString('hex')}`,
    auth,
  ].join('\n');
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(configFile, config);
  const logFile = path.join(dir, 'registry.log');
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exitedEarly = false;
  child.once('exit', () => (exitedEarly = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exitedEarly) throw new Error(`docker-registry exited: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/v2/', timeout: 500 }, (res) => {
        res.resume();
        // 401 is ready too (htpasswd registries refuse the anonymous probe).
        resolve(res.statusCode === 200 || res.statusCode === 401);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry not ready on ${port}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-registry-'));
  const storageDir = path.join(dir, 'storage');
  fs.mkdirSync(storageDir);
  let htpasswdFile: string | undefined;
  if (opts.htpasswd) {
    htpasswdFile = path.join(dir, 'htpasswd');
    fs.writeFileSync(htpasswdFile, htpasswdLine(opts.htpasswd.user, opts.htpasswd.password));
  }
  const logFile = path.join(dir, 'registry.log');

  let child: ChildProcess | undefined;
  let port = 0;
  let lastErr: unknown;
  // The free port can be taken between our probe and the registry's bind: retry with a new one.
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(dir, port, htpasswdFile);
    } catch (err) {
      lastErr = err;
    }
  }
  if (!child) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw lastErr;
  }
  const proc = child;

  // Requests logged before this offset are hidden (the readiness probes, and anything cleared).
  let offset = fs.statSync(logFile).size;
  // Wait for the readiness probe's line so it does not show up later.
  await pollUntil(() => (parseAccessLog(fs.readFileSync(logFile, 'utf8')).length > 0 ? true : undefined), 2000, 'registry access log').catch(() => {});
  offset = fs.statSync(logFile).size;

  const readLog = () => {
    const buf = fs.readFileSync(logFile);
    return buf.subarray(Math.min(offset, buf.length)).toString('utf8');
  };
  const requests = () => parseAccessLog(readLog());
  const host = `127.0.0.1:${port}`;
  return {
    host,
    url: `http://${host}`,
    storageDir,
    requests,
    waitForRequests: (pred, timeoutMs = 2000) =>
      pollUntil(() => {
        const r = requests();
        return pred(r) ? r : undefined;
      }, timeoutMs, 'registry requests'),
    clearRequests: () => {
      offset = fs.statSync(logFile).size;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited(proc);
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TokenAuthProxy {
  host: string;
  url: string;
  /** Every request the proxy saw, with the status it answered. */
  requests(): RegistryRequest[];
  /** Scopes asked for at /token, in order (e.g. `repository:app:pull`). */
  tokenScopes(): string[];
  stop(): Promise<void>;
}

const SERVICE = 'test-registry';

/** Whether a granted scope `repository:<name>:<actions>` covers every action in `need` on `repo`. */
function scopeAllows(scope: string, repo: string, need: string): boolean {
  const m = /^repository:(.+):([^:]*)$/.exec(scope);
  if (!m || m[1] !== repo) return false;
  const have = m[2].split(',');
  return need.split(',').every((a) => have.includes(a) || have.includes('*'));
}

/** The repository name in a /v2/<name>/(manifests|blobs|tags)/… path, or undefined for /v2/ itself. */
function repoOf(p: string): string | undefined {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(p);
  return m ? m[1] : undefined;
}

/**
 * An HTTP front implementing the Docker token flow (401 + Bearer challenge, /token with optional Basic auth)
 * and proxying authorised /v2/ requests to `upstream`. Only the auth layer is fake; content is the registry's.
 */
export async function startTokenAuthProxy(
  upstream: TestRegistry,
  opts: { user?: string; password?: string } = {},
): Promise<TokenAuthProxy> {
  // token -> the scopes it was issued for (`repository:<name>:pull,push`).
  const tokens = new Map<string, string[]>();
  const seen: RegistryRequest[] = [];
  const scopes: string[] = [];
  const up = new URL(upstream.url);
  let self = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const record: RegistryRequest = { method: req.method ?? 'GET', path: url.pathname };
    seen.push(record);
    res.on('finish', () => (record.status = res.statusCode));

    if (url.pathname === '/token') {
      req.resume();
      if (opts.user !== undefined || opts.password !== undefined) {
        const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
        const given = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
        if (given !== `${opts.user ?? ''}:${opts.password ?? ''}`) {
          res.writeHead(401, { 'WWW-Authenticate': `Basic realm="${SERVICE}"`, 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
          return;
        }
      }
      const scope = url.searchParams.get('scope');
      if (scope) scopes.push(scope);
      const token = randomBytes(18).toString('hex');
      tokens.set(token, scope ? scope.split(' ') : []);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
      return;
    }

    if (!url.pathname.startsWith('/v2')) {
      req.resume();
      res.writeHead(404).end();
      return;
    }

    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const granted = bearer ? tokens.get(bearer[1]) : undefined;
    const repo = repoOf(url.pathname);
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push';
    // Like a real token service, a pull token does not allow pushing: the client must ask again.
    const allowed = granted !== undefined && (!repo || granted.some((s) => scopeAllows(s, repo, action)));
    if (!allowed) {
      req.resume();
      const scope = repo ? `,scope="repository:${repo}:${action}"` : '';
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer realm="${self}/token",service="${SERVICE}"${scope}`,
        'Content-Type': 'application/json',
        'Docker-Distribution-Api-Version': 'registry/2.0',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }

    const headers = { ...req.headers, host: up.host };
    delete headers.authorization;
    const upReq = http.request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers },
      (upRes) => {
        const out = { ...upRes.headers };
        // Upload and redirect locations name the upstream; clients must come back through us.
        if (typeof out.location === 'string' && out.location.startsWith(upstream.url)) {
          out.location = self + out.location.slice(upstream.url.length);
        }
        res.writeHead(upRes.statusCode ?? 502, out);
        upRes.pipe(res);
      },
    );
    upReq.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(String(err));
    });
    req.pipe(upReq);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  self = `http://${host}`;
  return {
    host,
    url: self,
    requests: () => seen.map((r) => ({ ...r })),
    tokenScopes: () => [...scopes],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
