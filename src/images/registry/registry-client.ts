// The OCI distribution API (pull side) over undici: manifests and blobs of one repository, with the
// registry's auth challenge answered (anonymous or basic-auth bearer tokens, or plain basic auth).
// Redirects are followed by hand under the rules of registry-origins.ts, which keep credentials on the registry.
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { AegisError, isDiskFull, notFound, upstream } from '../../errors/codes.js';
import { MANIFEST_ACCEPT } from '../manifest.js';
import { apiHost, type RegistryRef } from '../reference.js';
import { parseAuthChallenge } from './auth-challenge.js';
import { BodyLimitError, discard, readBounded, type BodyLimits } from './bounded-body.js';
import type { Credentials } from './docker-credentials.js';
import { OFF_REGISTRY_RULE, refusalOffRegistry, sameOrigin, shownOrigin } from './registry-origins.js';

const MANIFEST_LIMITS: BodyLimits = { maxBytes: 4 * 1024 * 1024, timeoutMs: 120_000 };
const TOKEN_LIMITS: BodyLimits = { maxBytes: 64 * 1024, timeoutMs: 30_000 };
/** Error bodies are read only for the registry's error code; a bigger or slower one is reported by its status. */
const ERROR_LIMITS: BodyLimits = { maxBytes: 64 * 1024, timeoutMs: 10_000 };
const CONNECT_TIMEOUT_MS = 10_000;
/** A registry that stops sending for this long mid-body is treated as gone (the download resumes on retry). */
const BODY_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

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

/**
 * How one GET treats redirects: `same-origin` (manifests, tokens) stays within the origin it started at;
 * `off-registry` (blobs) may also go to storage that passes refusalOffRegistry, without the Authorization header.
 */
type RedirectRule = 'same-origin' | 'off-registry';

interface GetOptions {
  what: string;
  /** GET unless told; HEAD asks for a manifest's headers alone. */
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Sent only to `authOrigin` (and never after a redirect leaves it). */
  authorization?: string;
  authOrigin: URL;
  redirects: RedirectRule;
  headersTimeoutMs?: number;
}

export class RegistryClient {
  private readonly base: URL;
  private readonly agent: Agent;
  private authorization: string | undefined;
  private readonly attempts: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly ref: RegistryRef,
    private readonly opts: RegistryClientOptions,
  ) {
    this.base = new URL(`${opts.plainHttp ? 'http' : 'https'}://${apiHost(ref)}`);
    this.agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS }, connections: 8 });
    this.attempts = opts.attempts ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 300;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Fetches a manifest or index by tag or digest; a digest reference is verified against the bytes. */
  async manifest(reference: string): Promise<FetchedManifest> {
    const what = `manifest ${reference}`;
    const res = await this.send(`/v2/${this.ref.repository}/manifests/${reference}`, what, { accept: MANIFEST_ACCEPT }, 'same-origin');
    if (res.statusCode !== 200) await this.fail(res, what);
    let bytes: Buffer;
    try {
      bytes = await readBounded(res.body, res.headers['content-length'], MANIFEST_LIMITS);
    } catch (err) {
      if (err instanceof BodyLimitError) {
        throw upstream(
          err.limit === 'size'
            ? `${this.where()}: ${what} is larger than the ${MANIFEST_LIMITS.maxBytes} bytes accepted`
            : `${this.where()}: ${what} did not arrive within ${MANIFEST_LIMITS.timeoutMs / 1000} s`,
        );
      }
      throw err;
    }
    const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
    const claimed = header(res, 'docker-content-digest');
    const expected = reference.startsWith('sha256:') ? reference : claimed?.startsWith('sha256:') ? claimed : undefined;
    if (expected && expected !== digest) throw upstream(`${this.where()}: ${what}: digest mismatch (expected ${expected}, got ${digest})`);
    return { bytes, mediaType: header(res, 'content-type'), digest };
  }

  /**
   * The digest a tag or digest names, from a HEAD of its manifest (no body is sent: registries such as
   * Docker Hub do not count it as a pull). Undefined when the answer is not a 200 with a sha256 digest:
   * the caller GETs the manifest instead, which names the cause of a failure.
   */
  async manifestDigest(reference: string): Promise<string | undefined> {
    const res = await this.send(`/v2/${this.ref.repository}/manifests/${reference}`, `manifest ${reference}`, { accept: MANIFEST_ACCEPT }, 'same-origin', 'HEAD');
    await discard(res.body);
    const digest = res.statusCode === 200 ? header(res, 'docker-content-digest') : undefined;
    return digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
  }

  /** A blob's bytes from `offset` (a Range request; the answer says where it really starts). */
  async blob(digest: string, offset: number): Promise<{ stream: Readable; offset: number }> {
    const what = `blob ${digest}`;
    const res = await this.send(`/v2/${this.ref.repository}/blobs/${digest}`, what, offset > 0 ? { range: `bytes=${offset}-` } : {}, 'off-registry');
    if (res.statusCode === 206) return { stream: res.body, offset };
    if (res.statusCode === 200) return { stream: res.body, offset: 0 };
    return this.fail(res, what);
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

  /** One request (GET unless told) to the registry's API with auth: on a 401 challenge it authenticates once and repeats the request. */
  private async send(path: string, what: string, headers: Record<string, string>, redirects: RedirectRule, method: 'GET' | 'HEAD' = 'GET'): Promise<Dispatcher.ResponseData> {
    const url = new URL(path, this.base);
    const go = () =>
      this.withRetries(async () => {
        const res = await this.get(url, { what, method, headers, authOrigin: this.base, redirects, ...(this.authorization ? { authorization: this.authorization } : {}) });
        if (res.statusCode === 429 || res.statusCode >= 500) {
          await discard(res.body);
          throw new TransientHttpError(res.statusCode);
        }
        return res;
      });
    const res = await go();
    if (res.statusCode !== 401) return res;
    const hadAuth = this.authorization !== undefined;
    const challenge = header(res, 'www-authenticate');
    await discard(res.body);
    if (hadAuth) this.authorization = undefined;
    await this.authenticate(challenge);
    const again = await go();
    if (again.statusCode === 401) {
      await discard(again.body);
      throw upstream(`${this.where()} refused the credentials for ${this.ref.repository} (401 after authenticating)`);
    }
    return again;
  }

  /** One GET that follows redirects itself, refusing the ones `opts.redirects` does not allow. */
  private async get(start: URL, opts: GetOptions): Promise<Dispatcher.ResponseData> {
    let url = start;
    for (let hops = 0; ; hops++) {
      const auth = opts.authorization && sameOrigin(url, opts.authOrigin) ? { authorization: opts.authorization } : {};
      const res = await request(url, {
        method: opts.method ?? 'GET',
        dispatcher: this.agent,
        headers: { ...opts.headers, ...auth },
        bodyTimeout: BODY_TIMEOUT_MS,
        headersTimeout: opts.headersTimeoutMs ?? BODY_TIMEOUT_MS,
      });
      const location = REDIRECT_CODES.has(res.statusCode) ? header(res, 'location') : undefined;
      if (location === undefined) return res;
      await discard(res.body);
      const refuse = (why: string) => upstream(`${this.where()}: ${opts.what} was redirected to ${why}; not followed`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw refuse(`an invalid location ${JSON.stringify(location.slice(0, 100))}`);
      }
      if (hops >= MAX_REDIRECTS) throw refuse(`${shownOrigin(next)} after ${MAX_REDIRECTS} redirects already`);
      if (opts.redirects === 'same-origin') {
        if (!sameOrigin(next, url)) throw refuse(`${shownOrigin(next)}, another origin`);
      } else {
        const why = sameOrigin(next, this.base) ? undefined : refusalOffRegistry(next, this.base);
        if (why) throw refuse(`${shownOrigin(next)}, ${why} (${OFF_REGISTRY_RULE})`);
      }
      url = next;
    }
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
      throw upstream(`${this.where()}: the token realm ${JSON.stringify(challenge.params.realm.slice(0, 100))} is not a URL`);
    }
    // Asked with or without credentials: a realm is a URL the registry chose, not one to fetch blindly.
    const refusal = refusalOffRegistry(url, this.base);
    if (refusal) throw upstream(`${this.where()}: its token realm ${shownOrigin(url)} is ${refusal} (${OFF_REGISTRY_RULE}); not asked`);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope ?? `repository:${this.ref.repository}:pull`);
    const res = await this.withRetries(() =>
      this.get(url, { what: 'the token request', authOrigin: url, redirects: 'same-origin', headersTimeoutMs: TOKEN_LIMITS.timeoutMs, ...(basic ? { authorization: basic } : {}) }),
    );
    if (res.statusCode === 401 || res.statusCode === 403) {
      await discard(res.body);
      throw upstream(
        creds
          ? `${this.where()} refused the credentials for ${this.ref.repository} (token service answered ${res.statusCode})`
          : `${this.where()} requires a login for ${this.ref.repository}: add credentials with \`docker login ${this.ref.registry}\``,
      );
    }
    if (res.statusCode !== 200) {
      await discard(res.body);
      throw upstream(`${this.where()}: the token service answered ${res.statusCode}`);
    }
    let body: { token?: unknown; access_token?: unknown } = {};
    try {
      body = JSON.parse((await readBounded(res.body, res.headers['content-length'], TOKEN_LIMITS)).toString('utf8')) ?? {};
    } catch (err) {
      if (err instanceof BodyLimitError) {
        throw upstream(
          err.limit === 'size'
            ? `${this.where()}: the token service answered more than the ${TOKEN_LIMITS.maxBytes} bytes accepted`
            : `${this.where()}: the token service did not finish its answer within ${TOKEN_LIMITS.timeoutMs / 1000} s`,
        );
      }
      if (!(err instanceof SyntaxError)) throw err;
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw upstream(`${this.where()}: the token service returned no token`);
    this.authorization = `Bearer ${token}`;
  }

  /** Turns a non-success answer into one line naming the cause (the registry's own error code when it sent one). */
  private async fail(res: Dispatcher.ResponseData, what: string): Promise<never> {
    let body: { errors?: { code?: unknown; message?: unknown }[] } | undefined;
    try {
      body = JSON.parse((await readBounded(res.body, res.headers['content-length'], ERROR_LIMITS)).toString('utf8'));
    } catch {
      // Too big, too slow or not JSON: the status says enough.
    }
    const first = Array.isArray(body?.errors) ? body.errors[0] : undefined;
    const code = typeof first?.code === 'string' ? remoteText(first.code) : undefined;
    const detail = first ? `${code ?? 'error'}: ${typeof first.message === 'string' ? remoteText(first.message) : ''}`.trim() : `HTTP ${res.statusCode}`;
    if (res.statusCode === 404) {
      if (code === 'NAME_UNKNOWN') throw notFound(`${this.where()} has no repository ${this.ref.repository}`);
      throw notFound(`${this.where()} has no ${what} in ${this.ref.repository} (${detail})`);
    }
    if (res.statusCode === 403) throw upstream(`${this.where()} denied access to ${this.ref.repository} (${detail})`);
    throw upstream(`${this.where()}: ${what} in ${this.ref.repository} failed (${detail})`);
  }
}

/** Text a registry sent, fit for a one-line error: control characters become spaces, at most 200 characters. */
function remoteText(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
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
  // Our own disk, not the registry: the image store says what it could not store.
  if (isDiskFull(err)) return err as Error;
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
