// Generated request bodies against the real API (buildApi over a real SQLite store in a temp AEGIS_HOME,
// driven through fastify's inject): valid bodies mutated field by field, random JSON, and raw bytes under a
// JSON content type, for every route that writes.
// Invariant: no reply is a 5xx; every refusal is `{error, reason}` with one short line (and its issues name
// their fields); and a refused request changed nothing: every row of every table of the database is as before.
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KINDS } from '../../src/resources/kinds.js';
import { validateManifest } from '../../src/resources/manifest.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';
import { expectNamedIssues, expectOneLine, FUZZ_TIMEOUT_MS, fuzzParams, hostileJson, hostileString, mutate, mutationOf } from './support/fuzz.js';

let f: ApiFixture;
let reader: Database.Database;

/** Every row of every table, as one string: what "the store is unchanged" means, byte for byte. */
function dump(): string {
  const tables = reader.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  return JSON.stringify(tables.map((t) => [t, reader.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).raw().all()]), (_k, v: unknown) =>
    Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? String(v) : v,
  );
}

const app = { name: 'web', image: 'busybox:1.36', command: ['httpd', '-f', '-p', '80'], expose: [80], env: { MODE: 'prod' } };
const appManifest = { apiVersion: 'aegis.dev/v1', kind: 'App', metadata: { name: 'api-app' }, spec: { image: 'busybox:1.36', command: ['true'] } };
const secretManifest = { apiVersion: 'aegis.dev/v1', kind: 'Secret', metadata: { name: 'api-keys' }, spec: { app: 'api-app', data: { TOKEN: 'x' } } };
const kit = { name: 'kit', version: '1.0', image: 'busybox:1.36', config: { port: 8080 } };

interface Target {
  method: 'POST' | 'PUT';
  url: string;
  /** A body the route accepts (or nearly): the generator's starting point. */
  body: unknown;
}

// Every route that takes a body and writes (apply with two objects, so that a mutation of one leaves the
// other valid: half of it written would show), except image pull (a valid ref would go to the network) and exec
// (it needs a machine). The names they address exist (seeded below), so refusals are about the body.
const TARGETS: Target[] = [
  { method: 'POST', url: '/v1/apply', body: { source: 'cli', objects: [appManifest, secretManifest], prune: false, selector: { team: 'a' }, dryRun: false } },
  { method: 'POST', url: '/v1/apps', body: { ...app, name: 'other' } },
  { method: 'POST', url: '/v1/apps/web/publish', body: { label: 'v1' } },
  { method: 'POST', url: '/v1/instances', body: { app: 'web' } },
  { method: 'POST', url: '/v1/tasks', body: { image: 'busybox:1.36', command: ['true'], ttlSeconds: 60 } },
  { method: 'POST', url: '/v1/kits', body: kit },
  { method: 'POST', url: '/v1/resources/apps', body: { metadata: { name: 'res-app', labels: { team: 'a' } }, spec: { image: 'busybox:1.36', command: ['true'] } } },
  { method: 'PUT', url: '/v1/resources/apps/web', body: { metadata: { labels: { team: 'b' }, resourceVersion: 1 }, spec: { image: 'busybox:1.36', command: ['true'] } } },
  { method: 'POST', url: '/v1/resources/secrets', body: { metadata: { name: 'keys' }, spec: { app: 'web', data: { A: 'b' } } } },
  { method: 'PUT', url: '/v1/apps/web/secrets/API_KEY', body: { value: 'secret-value' } },
  { method: 'PUT', url: '/v1/secrets/TOKEN', body: { value: 'secret-value' } },
];

const mutation = mutationOf(['name', 'metadata', 'spec', 'labels', 'resourceVersion', 'objects', 'value', 'app', '__proto__']);

/** The raw payload: the mutated body as JSON, random JSON, or bytes that are not JSON at all. */
const payload = (base: unknown) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => JSON.stringify(ms.reduce(mutate, structuredClone(base))) ?? 'null') },
    { weight: 2, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 64 }), fc.constantFrom('', '{', '{"a":1,"a":2}', '[]', 'null', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '\ufeff{}')) },
  );

const request = fc.constantFrom(...TARGETS).chain((target) =>
  fc.record({
    target: fc.constant(target),
    payload: payload(target.body),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
    source: fc.option(hostileString.filter((s) => !/[\0\r\n]/.test(s) && s.length < 8_000), { nil: undefined }),
  }),
);

/** What an accepted write left behind reads back as a manifest the loader would accept: name, labels and spec. */
function expectStoredSound(): void {
  for (const kind of KINDS) {
    for (const r of f.store.list(kind)) {
      const { name, labels } = r.metadata;
      // A sealed Secret's data is not plaintext: its shape is the store's to check; its envelope is ours.
      const spec = kind === 'Secret' ? { ...r.spec, data: {} } : r.spec;
      expect(() => validateManifest({ apiVersion: 'aegis.dev/v1', kind, metadata: { name, labels }, spec }), `${kind} ${name} as stored`).not.toThrow();
    }
  }
}

beforeAll(async () => {
  f = await apiFixture();
  // Targets for the routes that address an existing object.
  const seeded = await f.api.inject({ method: 'POST', url: '/v1/apps', payload: app });
  expect(seeded.statusCode).toBe(201);
  reader = new Database(f.services.paths.db, { readonly: true, fileMustExist: true });
});

afterAll(async () => {
  reader?.close();
  await f?.close();
});

describe('fuzzed request bodies against the real API and store', () => {
  it('every write route: never a 5xx; a refusal is one line naming the field and leaves every table unchanged', async () => {
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(request, async ({ target, payload: body, contentType, source }) => {
        const before = dump();
        const res = await f.api.inject({
          method: target.method,
          url: target.url,
          payload: body,
          headers: { 'content-type': contentType, ...(source !== undefined ? { 'x-aegis-source': source } : {}) },
        });
        expect(res.statusCode, `${target.method} ${target.url} ${body.slice(0, 200)} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
        if (res.statusCode < 400) {
          seen.accepted++;
          expectStoredSound();
          return;
        }
        seen.refused++;
        const reply = res.json() as { error: string; reason: string; issues?: { path: string; message: string }[] };
        expect(reply.reason).toMatch(/^AEGIS_[A-Z_]+$/);
        expectOneLine(reply.error);
        if (reply.issues) {
          expectNamedIssues(reply.issues);
          if (reply.issues[0]?.path) expect(reply.error).toContain(reply.issues[0].path);
        }
        expect(dump() === before, `${target.method} ${target.url} was refused (${reply.error}) but changed the store`).toBe(true);
      }),
      fuzzParams('api: request bodies', 600),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);
});
