// The OCI distribution API (pull side) over undici: manifests and blobs of one repository, with the
// registry's auth challenge answered (anonymous or basic-auth bearer tokens, or plain basic auth).
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { AegisError, notFound, upstream } from '../../errors/codes.js';
import { MANIFEST_ACCEPT } from '../manifest.js';
import { apiHost, type RegistryRef } from '../reference.js';
import { parseAuthChallenge } from './auth-challenge.js';
import type { Credentials } from './docker-credentials.js';

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
/** A registry that stops sending for this long mid-body is treated as gone (the download resumes on retry). */
const BODY_TIMEOUT_MS = 60_000;

export interface RegistryClientOptions {
  /** Whether to speak plain HTTP to this registry (loopback and configured insecure registries). */
  plainHttp: boolean;
  credentials: Credentials | undefined;
  /** Attempts for requests that fail on the network or with 429/5xx. */
  attempts?: number;
  retryDelayMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string | undefined;
  digest: string;
}

/** True for hosts only reachable on this machine: plain HTTP is acceptable there. */
export function isLoopbackRegistry(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]';
}

export class RegistryClient {
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly agent: Agent;
  private authorization: string | undefined;
  private readonly attempts: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly ref: RegistryRef,
    private readonly opts: RegistryClientOptions,
  ) {
    this.base = `${opts.plainHttp ? 'http' : 'https'}://${apiHost(ref)}`;
    this.agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS }, connections: 8 });
    // Blob GETs are often redirected to object storage; undici drops Authorization when the origin changes.
    this.dispatcher = this.agent.compose(interceptors.redirect({ maxRedirections: 5 }));
    this.attempts = opts.attempts ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 300;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Fetches a manifest or index by tag or digest; a digest reference is verified against the bytes. */
  async manifest(reference: string): Promise<FetchedManifest> {
    const res = await this.send(`/v2/${this.ref.repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (res.statusCode !== 200) await this.fail(res, `manifest ${reference}`);
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw upstream(`${this.where()}: manifest ${reference} is ${declared} bytes, more than the ${MAX_MANIFEST_BYTES} accepted`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw upstream(`${this.where()}: manifest ${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
    const claimed = header(res, 'docker-content-digest');
    const expected = reference.startsWith('sha256:') ? reference : claimed?.startsWith('sha256:') ? claimed : undefined;
    if (expected && expected !== digest) throw upstream(`${this.where()}: manifest ${reference}: digest mismatch (expected ${expected}, got ${digest})`);
    return { bytes, mediaType: header(res, 'content-type'), digest };
  }

  /** A blob's bytes from `offset` (a Range request; the answer says where it really starts). */
  async blob(digest: string, offset: number): Promise<{ stream: Readable; offset: number }> {
    const res = await this.send(`/v2/${this.ref.repository}/blobs/${digest}`, offset > 0 ? { range: `bytes=${offset}-` } : {});
    if (res.statusCode === 206) return { stream: res.body, offset };
    if (res.statusCode === 200) return { stream: res.body, offset: 0 };
    return this.fail(res, `blob ${digest}`);
  }

  /** Retries `op` on network errors, 429 and 5xx, waiting longer each time. */
  async withRetries<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (attempt >= this.attempts || !isTransient(err)) throw describeNetworkError(err, this.where());
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  private where(): string {
    return `registry ${this.ref.registry}`;
  }

  /** One GET with auth: on a 401 challenge it authenticates once and repeats the request. */
  private async send(path: string, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    const go = () =>
      this.withRetries(async () => {
        const res = await request(this.base + path, {
          method: 'GET',
          dispatcher: this.dispatcher,
          headers: { ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) },
          bodyTimeout: BODY_TIMEOUT_MS,
          headersTimeout: BODY_TIMEOUT_MS,
        });
        if (res.statusCode === 429 || res.statusCode >= 500) {
          await res.body.dump();
          throw new TransientHttpError(res.statusCode);
        }
        return res;
      });
    const res = await go();
    if (res.statusCode !== 401) return res;
    const hadAuth = this.authorization !== undefined;
    const challenge = header(res, 'www-authenticate');
    await res.body.dump();
    if (hadAuth) this.authorization = undefined;
    await this.authenticate(challenge);
    const again = await go();
    if (again.statusCode === 401) {
      await again.body.dump();
      throw upstream(`${this.where()} refused the credentials for ${this.ref.repository} (401 after authenticating)`);
    }
    return again;
  }

  private async authenticate(challengeHeader: string | undefined): Promise<void> {
    const challenge = parseAuthChallenge(challengeHeader);
    const creds = this.opts.credentials;
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (challenge?.scheme === 'basic') {
      if (!basic) throw upstream(`${this.where()} requires a login for ${this.ref.repository}: add credentials with \`docker login ${this.ref.registry}\``);
      this.authorization = basic;
      return;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
      throw upstream(`${this.where()} answered 401 without a usable WWW-Authenticate challenge`);
    }
    let url: URL;
    try {
      url = new URL(challenge.params.realm);
    } catch {
      throw upstream(`${this.where()}: the token realm ${JSON.stringify(challenge.params.realm)} is not a URL`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope ?? `repository:${this.ref.repository}:pull`);
    const res = await this.withRetries(() =>
      request(url, { method: 'GET', dispatcher: this.dispatcher, headers: basic ? { authorization: basic } : {}, headersTimeout: BODY_TIMEOUT_MS, bodyTimeout: BODY_TIMEOUT_MS }),
    );
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw upstream(
        creds
          ? `${this.where()} refused the credentials for ${this.ref.repository} (token service answered ${res.statusCode})`
          : `${this.where()} requires a login for ${this.ref.repository}: add credentials with \`docker login ${this.ref.registry}\``,
      );
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw upstream(`${this.where()}: the token service answered ${res.statusCode}`);
    }
    const body = (await res.body.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw upstream(`${this.where()}: the token service returned no token`);
    this.authorization = `Bearer ${token}`;
  }

  /** Turns a non-success answer into one line naming the cause (the registry's own error code when it sent one). */
  private async fail(res: Dispatcher.ResponseData, what: string): Promise<never> {
    const body = (await res.body.json().catch(() => undefined)) as { errors?: { code?: string; message?: string }[] } | undefined;
    const first = body?.errors?.[0];
    const detail = first ? `${first.code ?? 'error'}: ${first.message ?? ''}`.trim() : `HTTP ${res.statusCode}`;
    if (res.statusCode === 404) {
      if (first?.code === 'NAME_UNKNOWN') throw notFound(`${this.where()} has no repository ${this.ref.repository}`);
      throw notFound(`${this.where()} has no ${what} in ${this.ref.repository} (${detail})`);
    }
    if (res.statusCode === 403) throw upstream(`${this.where()} denied access to ${this.ref.repository} (${detail})`);
    throw upstream(`${this.where()}: ${what} in ${this.ref.repository} failed (${detail})`);
  }
}

class TransientHttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

function errCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
}

export function isTransient(err: unknown): boolean {
  if (err instanceof AegisError) return false;
  if (err instanceof TransientHttpError || err instanceof Error && err.name === 'BlobTruncatedError') return true;
  return TRANSIENT_CODES.has(errCode(err) ?? '');
}

/** A one-line message for network failures; AegisErrors pass through. */
export function describeNetworkError(err: unknown, where: string): Error {
  if (err instanceof AegisError) return err;
  if (err instanceof TransientHttpError) return upstream(`${where} answered ${err.status} (after retries)`);
  const code = errCode(err);
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    UND_ERR_BODY_TIMEOUT: 'the transfer stalled',
    EPROTO: 'TLS handshake failed (is it a plain-HTTP registry? list it under images.insecureRegistries in config.yaml)',
    ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed (is it a plain-HTTP registry? list it under images.insecureRegistries in config.yaml)',
  };
  const message = err instanceof Error ? err.message : String(err);
  return upstream(`cannot reach ${where}: ${(code && why[code]) ?? message}`);
}

function header(res: Dispatcher.ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
