// App endpoints over a real store: create, read, list, publish and releases, delete with purge; every reply
// keeps the resource contract, every write is a store write (which is all that wakes the controllers).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FINALIZER, PURGE_WORKSPACE_LABEL } from '../../src/model/metadata-keys.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';
import { expectResource } from './resource-contract.js';

const web = { name: 'web', image: 'busybox:1.36', command: ['httpd', '-f', '-p', '80'], expose: [80] };

describe('app API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) => f.api.inject({ method: 'POST', url, ...(payload !== undefined ? { payload: payload as object } : {}), headers });

  it('creates an app with its clean-up claimed and its source, and only writes the store', async () => {
    const res = await post('/v1/apps', web, { 'x-aegis-source': 'cli' });
    expect(res.statusCode).toBe(201);
    const app = res.json();
    expectResource(app, 'App');
    expect(app.metadata).toMatchObject({ name: 'web', source: 'cli', finalizers: [FINALIZER.App], generation: 1 });
    expect(app.spec).toMatchObject({ image: 'busybox:1.36', expose: [80], serve: false, env: {} });
    expect(f.written).toEqual([['App', 'web']]);
  });

  it('refuses a bad app with field paths, a missing name, and a second app of the same name', async () => {
    const bad = await post('/v1/apps', { ...web, expose: [0], replicas: 3 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().reason).toBe('AEGIS_INVALID');
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['spec.expose.0', 'spec.replicas']);
    expect((await post('/v1/apps', { image: 'busybox:1.36', command: ['true'] })).json()).toMatchObject({ reason: 'AEGIS_INVALID', issues: [{ path: 'name' }] });
    expect((await post('/v1/apps', [])).statusCode).toBe(400);
    await post('/v1/apps', web);
    expect((await post('/v1/apps', web)).json()).toEqual({ error: 'app "web" already exists', reason: 'AEGIS_CONFLICT' });
    expect(f.written).toEqual([['App', 'web']]);
  });

  it('reads an app by name or id and lists apps by name', async () => {
    await post('/v1/apps', { ...web, name: 'zeta' });
    const id = (await post('/v1/apps', web)).json().metadata.uid;
    expect((await f.api.inject({ url: `/v1/apps/${id}` })).json().metadata.name).toBe('web');
    const list = (await f.api.inject({ url: '/v1/apps' })).json().items;
    expect(list.map((a: { metadata: { name: string } }) => a.metadata.name)).toEqual(['web', 'zeta']);
    for (const a of list) expectResource(a, 'App');
    expect((await f.api.inject({ url: '/v1/apps/nope' })).json()).toEqual({ error: 'app "nope" not found', reason: 'AEGIS_NOT_FOUND' });
  });

  it('publishes releases in sequence, newest first, with unique labels, and not for an app being deleted', async () => {
    await post('/v1/apps', web);
    const first = await post('/v1/apps/web/publish', { label: 'v1' });
    expect(first.statusCode).toBe(201);
    expectResource(first.json(), 'Release');
    expect(first.json()).toMatchObject({ spec: { app: 'web', image: 'busybox:1.36', label: 'v1' }, status: { phase: 'Pending', sequence: 1 } });
    expect((await post('/v1/apps/web/publish', { label: 'v1' })).json().error).toMatch(/^app "web" already has a release labelled v1 \(rel-/);
    const second = (await post('/v1/apps/web/publish')).json();
    expect(second.status.sequence).toBe(2);
    const releases = (await f.api.inject({ url: '/v1/apps/web/releases' })).json().items;
    expect(releases.map((r: { metadata: { uid: string } }) => r.metadata.uid)).toEqual([second.metadata.uid, first.json().metadata.uid]);
    expect((await post('/v1/apps/web/publish', { label: 7 })).json()).toEqual({ error: 'invalid request body: label: must be a string', reason: 'AEGIS_INVALID', issues: [{ path: 'label', message: 'must be a string' }] });

    expect((await f.api.inject({ method: 'DELETE', url: '/v1/apps/web' })).json()).toMatchObject({ name: 'web', result: 'terminating' });
    expect((await post('/v1/apps/web/publish')).json()).toEqual({ error: 'app "web" is being deleted', reason: 'AEGIS_CONFLICT' });
  });

  it('marks an app for deletion (its controller finishes it), with purge as a label', async () => {
    await post('/v1/apps', web);
    f.written.length = 0;
    const res = await f.api.inject({ method: 'DELETE', url: '/v1/apps/web?purge=true' });
    expect(res.json()).toMatchObject({ name: 'web', result: 'terminating' });
    const stored = f.store.get('App', 'web')!;
    expect(stored.metadata.deletionTimestamp).toBeTruthy();
    expect(stored.metadata.labels[PURGE_WORKSPACE_LABEL]).toBe('true');
    expect(f.written).toEqual([['App', 'web'], ['App', 'web']]);
  });
});
