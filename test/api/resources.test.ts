// The generic resource endpoints and the API's error contract, over a real SQLite store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BODY_LIMIT } from '../../src/api/app.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';

const app = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { image: 'busybox:1.36', command: ['httpd', '-f', '-p', '80'], expose: [80], ...extra },
});

describe('resource API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  it('creates, reads, lists and deletes, each a store write', async () => {
    const created = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web') });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body.metadata).toMatchObject({ name: 'web', generation: 1 });
    expect(body.metadata.uid).toMatch(/^app-/);
    expect(f.written).toEqual([['App', 'web']]);

    const byId = await f.api.inject({ url: `/v1/resources/app/${body.metadata.uid}` });
    expect(byId.json().metadata.name).toBe('web');
    const list = await f.api.inject({ url: '/v1/resources/App' });
    expect(list.json().items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['web']);

    const del = await f.api.inject({ method: 'DELETE', url: '/v1/resources/apps/web' });
    expect(del.json()).toMatchObject({ result: 'deleted' });
    expect((await f.api.inject({ url: '/v1/resources/apps/web' })).statusCode).toBe(404);
  });

  it('bumps generation on spec change only, and refuses a stale resourceVersion with 409', async () => {
    const c = (await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web') })).json();
    const rv = c.metadata.resourceVersion;
    const same = await f.api.inject({ method: 'PUT', url: '/v1/resources/apps/web', payload: { ...app('web'), metadata: { resourceVersion: rv } } });
    expect(same.json().metadata).toMatchObject({ generation: 1, resourceVersion: rv });
    const changed = await f.api.inject({ method: 'PUT', url: '/v1/resources/apps/web', payload: { ...app('web', { expose: [8080] }), metadata: { resourceVersion: rv } } });
    expect(changed.json().metadata.generation).toBe(2);
    const stale = await f.api.inject({ method: 'PUT', url: '/v1/resources/apps/web', payload: { ...app('web', { expose: [9090] }), metadata: { resourceVersion: rv } } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ reason: 'AEGIS_CONFLICT' });
    expect(stale.json().error).toMatch(/was modified/);
    expect(f.store.get('App', 'web')!.spec.expose).toEqual([8080]);
  });

  it('rejects an invalid spec with field paths and writes nothing', async () => {
    const r = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web', { expose: ['eighty'], colour: 'red' }) });
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.reason).toBe('AEGIS_INVALID');
    const paths = body.issues.map((i: { path: string }) => i.path);
    expect(paths.some((p: string) => p.includes('expose'))).toBe(true);
    expect(body.issues.some((i: { path: string; message: string }) => /colour/.test(i.path + i.message))).toBe(true);
    expect(f.store.list('App')).toEqual([]);
    expect(f.written).toEqual([]);
  });

  it('rejects a bad name with the rule, and a duplicate with 409', async () => {
    const bad = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('Not_A_Name') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/Not_A_Name/);
    expect(f.store.list('App')).toEqual([]);
    await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web') });
    const dup = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web') });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toBe('app "web" already exists');
  });

  it('refuses a body over the size limit with 413 and writes nothing', async () => {
    const big = app('web', { env: { BIG: 'x'.repeat(BODY_LIMIT) } });
    const r = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: big });
    expect(r.statusCode).toBe(413);
    expect(r.json().reason).toBe('AEGIS_TOO_LARGE');
    expect(f.store.list('App')).toEqual([]);
  });

  it('answers unknown kinds, unknown names, unknown routes and bad JSON with clear 4xx errors', async () => {
    const kind = await f.api.inject({ url: '/v1/resources/widgets' });
    expect(kind.statusCode).toBe(400);
    expect(kind.json().error).toMatch(/widgets/);
    const name = await f.api.inject({ url: '/v1/resources/apps/nope' });
    expect(name.statusCode).toBe(404);
    expect(name.json()).toEqual({ error: 'app "nope" not found', reason: 'AEGIS_NOT_FOUND' });
    const route = await f.api.inject({ url: '/v2/nothing' });
    expect(route.statusCode).toBe(404);
    const json = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', headers: { 'content-type': 'application/json' }, payload: '{"metadata":' });
    expect(json.statusCode).toBe(400);
    expect(json.json().reason).toBe('AEGIS_INVALID');
  });

  it('never shows secret values', async () => {
    const r = await f.api.inject({ method: 'POST', url: '/v1/resources/secrets', payload: { metadata: { name: 'web-secrets' }, spec: { app: 'web', data: { API_KEY: 'sk-very-secret' } } } });
    expect(r.statusCode).toBe(201);
    expect(r.body).not.toContain('sk-very-secret');
    const got = await f.api.inject({ url: '/v1/resources/secrets/web-secrets' });
    expect(got.body).not.toContain('sk-very-secret');
    expect(got.json().spec.data).toEqual({ API_KEY: '<redacted>' });
    expect(f.store.revealSecret('web-secrets')).toEqual({ API_KEY: 'sk-very-secret' });
  });

  it('status reports backend, capabilities and counts', async () => {
    await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: app('web') });
    const s = (await f.api.inject({ url: '/v1/status' })).json();
    expect(s).toMatchObject({ backend: 'sandbox', capabilities: { pauseResume: true, isolation: 'namespace' } });
    expect(s.counts.App).toBe(1);
    expect(s.counts.Kit).toBe(0);
  });
});
