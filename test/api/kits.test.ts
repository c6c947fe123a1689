// The kit endpoints over a real SQLite store: both manifest forms, validation, idempotent install, uninstall guards.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';

const flat = { name: 'famiglia', version: '1.0.0', description: 'Famiglia agent kit', image: 'ghcr.io/aegis/famiglia:1.0.0' };
const full = (spec: Record<string, unknown> = { version: '0.9.2', image: 'ghcr.io/aegis/openclaw:0.9.2' }) => ({
  apiVersion: 'aegis.dev/v1',
  kind: 'Kit',
  metadata: { name: 'openclaw', labels: { team: 'a' } },
  spec,
});

describe('kit API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  const install = (payload: unknown, headers: Record<string, string> = {}) => f.api.inject({ method: 'POST', url: '/v1/kits', payload: payload as object, headers });

  it('installs the seed flat form with 201, keeping the source header, and enqueues it', async () => {
    const r = await install(flat, { 'x-aegis-source': 'cli' });
    expect(r.statusCode).toBe(201);
    const body = r.json();
    expect(body).toMatchObject({ kind: 'Kit', metadata: { name: 'famiglia', source: 'cli' }, spec: { version: '1.0.0', description: 'Famiglia agent kit', image: 'ghcr.io/aegis/famiglia:1.0.0' } });
    expect(body.metadata.uid).toMatch(/^kit-/);
    expect(f.store.get('Kit', 'famiglia')!.spec).toEqual(body.spec);
    expect(f.written).toEqual([['Kit', 'famiglia']]);
  });

  it('installs the full manifest form with labels and config defaults; the source defaults to api', async () => {
    const r = await install(full({ version: '0.9.2', image: 'ghcr.io/aegis/openclaw:0.9.2', config: { port: 8080, secrets: { required: ['API_KEY'] } } }));
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({
      metadata: { name: 'openclaw', labels: { team: 'a' }, source: 'api' },
      spec: { config: { port: 8080, secrets: { required: ['API_KEY'], optional: [] } } },
    });
  });

  it('rejects invalid documents with 400 and field paths, writing nothing', async () => {
    const bad = await install({ name: 'famiglia', version: 1, image: '', colour: 'red' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().reason).toBe('AEGIS_INVALID');
    const paths = new Set(bad.json().issues.map((i: { path: string }) => i.path));
    expect([...paths].sort()).toEqual(['colour', 'image', 'version']);
    expect(bad.json().issues.find((i: { path: string }) => i.path === 'version').message).toMatch(/quote versions/);

    const missing = await install({ name: 'famiglia' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['image', 'version']);

    const badName = await install({ ...flat, name: 'Famiglia' });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().issues).toEqual([{ path: 'name', message: 'must start with a lowercase letter' }]);

    const badSpec = await install(full({ version: '1', image: 'ghcr.io/x/y:1', config: { port: 'http' } }));
    expect(badSpec.statusCode).toBe(400);
    expect(badSpec.json().issues.map((i: { path: string }) => i.path)).toEqual(['spec.config.port']);

    const notObject = await f.api.inject({ method: 'POST', url: '/v1/kits', payload: '[1]', headers: { 'content-type': 'application/json' } });
    expect(notObject.statusCode).toBe(400);
    expect(notObject.json().reason).toBe('AEGIS_INVALID');

    expect(f.store.list('Kit')).toEqual([]);
    expect(f.written).toEqual([]);
  });

  it('refuses a manifest of another kind', async () => {
    const r = await install({ apiVersion: 'aegis.dev/v1', kind: 'App', metadata: { name: 'web' }, spec: { image: 'busybox', command: ['x'] } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ reason: 'AEGIS_INVALID', error: 'POST /v1/kits takes a Kit manifest, got kind "App"', issues: [{ path: 'kind', message: 'expected "Kit", got "App"' }] });
    expect(f.store.list('App')).toEqual([]);
  });

  it('reinstalling the same kit answers 200 with the existing resource; a different one is 409', async () => {
    const first = (await install(flat)).json();
    const again = await install(flat);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first);
    // The same kit in the other form is the same kit.
    const { name, ...spec } = flat;
    const asManifest = await install({ apiVersion: 'aegis.dev/v1', kind: 'Kit', metadata: { name }, spec });
    expect(asManifest.statusCode).toBe(200);
    expect(f.written).toEqual([['Kit', 'famiglia']]);

    const other = await install({ ...flat, version: '2.0.0', image: 'ghcr.io/aegis/famiglia:2.0.0' });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toEqual({ error: 'kit "famiglia" is already installed (version 1.0.0); uninstall it first', reason: 'AEGIS_CONFLICT' });
    expect(f.store.get('Kit', 'famiglia')!.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
  });

  it('lists kits sorted by name and reads one by name or id; unknown is 404', async () => {
    await install({ ...flat, name: 'zeta' });
    await install(full());
    const famiglia = (await install(flat)).json();
    const list = await f.api.inject({ url: '/v1/kits' });
    expect(list.json().items.map((k: { metadata: { name: string } }) => k.metadata.name)).toEqual(['famiglia', 'openclaw', 'zeta']);
    expect((await f.api.inject({ url: '/v1/kits/famiglia' })).json()).toEqual(famiglia);
    expect((await f.api.inject({ url: `/v1/kits/${famiglia.metadata.uid}` })).json().metadata.name).toBe('famiglia');
    const missing = await f.api.inject({ url: '/v1/kits/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'kit "nope" not found', reason: 'AEGIS_NOT_FOUND' });
  });

  it('uninstalls a kit; unknown is 404', async () => {
    await install(flat);
    f.written.length = 0;
    const del = await f.api.inject({ method: 'DELETE', url: '/v1/kits/famiglia' });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ name: 'famiglia', result: 'deleted' });
    expect(f.store.get('Kit', 'famiglia')).toBeUndefined();
    expect(f.written).toEqual([['Kit', 'famiglia']]);
    const again = await f.api.inject({ method: 'DELETE', url: '/v1/kits/famiglia' });
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toBe('kit "famiglia" not found');
  });

  it('refuses to uninstall a kit apps use unless forced', async () => {
    await install(flat);
    for (const name of ['web', 'api']) {
      const r = await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: { metadata: { name }, spec: { kit: 'famiglia', command: ['x'] } } });
      expect(r.statusCode).toBe(201);
    }
    await f.api.inject({ method: 'POST', url: '/v1/resources/apps', payload: { metadata: { name: 'other' }, spec: { image: 'busybox', command: ['x'] } } });
    const refused = await f.api.inject({ method: 'DELETE', url: '/v1/kits/famiglia' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({ error: 'kit "famiglia" is used by app(s) api, web; delete them first or uninstall with --force', reason: 'AEGIS_CONFLICT' });
    expect(f.store.get('Kit', 'famiglia')).toBeDefined();

    const forced = await f.api.inject({ method: 'DELETE', url: '/v1/kits/famiglia?force=true' });
    expect(forced.json()).toEqual({ name: 'famiglia', result: 'deleted' });
    expect(f.store.get('Kit', 'famiglia')).toBeUndefined();
    expect(f.store.list('App').map((a) => a.metadata.name)).toEqual(['web', 'api', 'other']);
  });
});
