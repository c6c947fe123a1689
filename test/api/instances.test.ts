// Instance endpoints over a real store with a fake lifecycle: create (ad hoc, and by serving an app with a
// Ready release), read by what a name means, keepalive and exec handed to the running instances, delete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FINALIZER } from '../../src/model/metadata-keys.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';
import { expectResource } from './resource-contract.js';

describe('instance API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  const post = (url: string, payload?: unknown) => f.api.inject({ method: 'POST', url, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const adHoc = async () => (await post('/v1/instances', { command: ['httpd'], expose: [8080] })).json();
  /** An app with a published, Ready release (what the release controller would have made of a publish). */
  const publishedApp = (name: string, expose: number[] = [80]) => {
    f.store.create('App', { name, spec: { image: 'busybox:1.36', command: ['httpd'], expose }, source: 'test' });
    return f.store.create('Release', { spec: { app: name, image: 'busybox:1.36' }, status: { phase: 'Ready', sequence: 1, conditions: [] }, source: 'test' });
  };

  it('creates an ad-hoc instance with its clean-up claimed, and refuses one without ports', async () => {
    const inst = await adHoc();
    expectResource(inst, 'Instance');
    expect(inst.metadata.finalizers).toEqual([FINALIZER.Instance]);
    expect(f.written).toEqual([['Instance', inst.metadata.name]]);
    const noPort = await post('/v1/instances', { command: ['httpd'] });
    expect(noPort.statusCode).toBe(400);
    expect(noPort.json().issues).toContainEqual(expect.objectContaining({ path: 'spec.expose' }));
    expect((await post('/v1/instances', [])).json()).toMatchObject({ error: 'invalid instance spec: spec: Invalid input: expected object, received array', reason: 'AEGIS_INVALID', issues: [{ path: 'spec' }] });
  });

  it('serves an app once: a second serve returns the same instance; no port or no release is refused', async () => {
    publishedApp('web');
    const first = await post('/v1/apps/web/serve');
    expect(first.statusCode).toBe(201);
    expect(first.json().spec).toEqual({ app: 'web', env: {} });
    const again = await post('/v1/apps/web/serve');
    expect(again.statusCode).toBe(200);
    expect(again.json().metadata.uid).toBe(first.json().metadata.uid);

    publishedApp('worker', []);
    expect((await post('/v1/apps/worker/serve')).json()).toEqual({ error: 'app "worker" exposes no port, so there is nothing to serve; recreate it with --expose PORT', reason: 'AEGIS_INVALID' });
    f.store.create('App', { name: 'draft', spec: { image: 'busybox:1.36', command: ['httpd'], expose: [80] }, source: 'test' });
    expect((await post('/v1/apps/draft/serve')).json()).toEqual({ error: 'app "draft" has no published release; run: aegis app publish draft', reason: 'AEGIS_CONFLICT' });
    expect((await f.api.inject({ url: '/v1/instances' })).json().items).toHaveLength(1);
  });

  it("reads an instance by id, by name, and by its app's name, and says what is missing", async () => {
    publishedApp('web');
    const served = (await post('/v1/apps/web/serve')).json();
    expect((await f.api.inject({ url: '/v1/instances/web' })).json().metadata.uid).toBe(served.metadata.uid);
    expect((await f.api.inject({ url: `/v1/instances/${served.metadata.uid}` })).json().metadata.uid).toBe(served.metadata.uid);
    f.store.create('App', { name: 'idle', spec: { image: 'busybox:1.36', command: ['httpd'], expose: [80] }, source: 'test' });
    expect((await f.api.inject({ url: '/v1/instances/idle' })).json()).toEqual({ error: 'app "idle" has no instance (serve it with: aegis app serve idle)', reason: 'AEGIS_NOT_FOUND' });
    expect((await f.api.inject({ url: '/v1/instances/ghost' })).json()).toEqual({ error: 'no instance or app named "ghost"', reason: 'AEGIS_NOT_FOUND' });
  });

  it('hands keepalive and exec to the running instance, and exec on a stopped one is refused', async () => {
    const inst = await adHoc();
    const uid = inst.metadata.uid;
    expect((await post(`/v1/instances/${uid}/keepalive`)).json()).toEqual({ id: uid });
    expect(f.instances.touched).toEqual([uid]);

    const stopped = await post(`/v1/instances/${uid}/exec`, { command: ['true'] });
    expect(stopped.statusCode).toBe(409);
    expect(stopped.json().error).toBe(`instance ${uid} is stopped; it starts again on its next connection (or: aegis app serve)`);

    f.instances.running.add(uid);
    const out = [
      { ts: '2026-01-01T00:00:00.000Z', stream: 'stdout', data: 'aGkK' },
      { ts: '2026-01-01T00:00:00.000Z', stream: 'system', exec_id: 'exec-1', exit: { code: 7, signal: null } },
    ];
    f.instances.output = out;
    const res = await post(`/v1/instances/${inst.metadata.name}/exec`, { command: ['sh', '-c', 'exit 7'], env: { X: '1' }, workdir: '/tmp', user: '1000:1000' });
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(res.payload.trim().split('\n').map((l) => JSON.parse(l))).toEqual(out);
    expect(f.instances.execs).toEqual([{ uid, req: { argv: ['sh', '-c', 'exit 7'], env: { X: '1' }, cwd: '/tmp', user: '1000:1000' } }]);

    // With stdin the body is the input and the request rides in a header.
    await f.api.inject({ method: 'POST', url: `/v1/instances/${uid}/exec`, headers: { 'content-type': 'application/octet-stream', 'x-aegis-exec': JSON.stringify({ command: ['cat'] }) }, payload: 'piped\n' });
    expect(f.instances.execs[1]).toEqual({ uid, req: { argv: ['cat'] }, stdin: 'piped\n' });
  });

  it('refuses a malformed exec before the instance is asked', async () => {
    const uid = (await adHoc()).metadata.uid;
    f.instances.running.add(uid);
    // One line naming the field, and the field in `issues`.
    const cases: [unknown, string, string][] = [
      [{}, 'command', 'invalid exec request: command: a non-empty array of strings'],
      [{ command: [] }, 'command', 'invalid exec request: command: a non-empty array of strings'],
      [{ command: [1] }, 'command.0', 'invalid exec request: command.0: a non-empty array of strings'],
      [{ command: ['x'], env: { A: 1 } }, 'env.A', 'invalid exec request: env.A: must map names to strings'],
      [{ command: ['x'], workdir: 3 }, 'workdir', 'invalid exec request: workdir: must be a string'],
    ];
    for (const [body, path, error] of cases) {
      expect((await post(`/v1/instances/${uid}/exec`, body)).json()).toEqual({ error, reason: 'AEGIS_INVALID', issues: [{ path, message: error.replace(/^.*: /, '') }] });
    }
    expect((await post(`/v1/instances/${uid}/exec`, { command: ['x'], user: 'no body:here' })).json().error).toMatch(/^invalid exec request: user: must be /);
    const badHeader = await f.api.inject({ method: 'POST', url: `/v1/instances/${uid}/exec`, headers: { 'content-type': 'application/octet-stream', 'x-aegis-exec': '{' }, payload: '' });
    expect(badHeader.json()).toEqual({ error: 'x-aegis-exec must be a JSON object', reason: 'AEGIS_INVALID' });
    expect(f.instances.execs).toEqual([]);
  });

  it('marks an instance for deletion; its controller stops the machine', async () => {
    const uid = (await adHoc()).metadata.uid;
    expect((await f.api.inject({ method: 'DELETE', url: `/v1/instances/${uid}` })).json()).toEqual({ id: uid, result: 'terminating' });
    expect(f.store.get('Instance', uid)!.metadata.deletionTimestamp).toBeTruthy();
  });
});
