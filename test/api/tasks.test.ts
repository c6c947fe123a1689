// Task endpoints over a real store and task log: create (refused before anything is written when invalid or
// too large for the host), read, list, logs as NDJSON, delete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkEntry } from '../../src/logs/log-entry.js';
import { FINALIZER } from '../../src/model/metadata-keys.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';
import { expectResource } from './resource-contract.js';

describe('task API', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  const create = (payload: unknown) => f.api.inject({ method: 'POST', url: '/v1/tasks', payload: payload as object });

  it('creates a pending task with its id, defaults and clean-up claimed', async () => {
    const res = await create({ command: ['echo', 'hi'], env: { A: 'b' } });
    expect(res.statusCode).toBe(201);
    const task = res.json();
    expectResource(task, 'Task');
    expect(task.id).toBe(task.metadata.uid);
    expect(task.metadata.finalizers).toEqual([FINALIZER.Task]);
    expect(task.spec).toEqual({ command: ['echo', 'hi'], env: { A: 'b' }, ttlSeconds: 3600 });
    expect(f.written).toEqual([['Task', task.metadata.name]]);
    expect((await f.api.inject({ url: `/v1/tasks/${task.id}` })).json().metadata.uid).toBe(task.id);
    expect((await f.api.inject({ url: '/v1/tasks' })).json().items.map((t: { metadata: { uid: string } }) => t.metadata.uid)).toEqual([task.id]);
  });

  it('refuses a bad task, or one the host cannot hold, before writing anything', async () => {
    const bad = await create({ command: [] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues.map((i: { path: string }) => i.path)).toEqual(['spec.command']);
    const huge = await create({ command: ['true'], resources: { memoryMiB: 64 * 1024 * 1024 } });
    expect(huge.json().reason).toMatch(/^AEGIS_(OVER_CAPACITY|INVALID)$/);
    expect(f.written).toEqual([]);
  });

  it('serves the task log as NDJSON and deletes through the finalizer', async () => {
    const id = (await create({ command: ['echo', 'hi'] })).json().id;
    const log = f.services.lifecycle.taskLogs.get(id);
    log.append(chunkEntry('stdout', Buffer.from('hi\n')));
    log.append({ ts: new Date().toISOString(), stream: 'system', exit: { code: 0, signal: null } });
    log.close();
    const res = await f.api.inject({ url: `/v1/tasks/${id}/logs` });
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = res.payload.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ stream: 'system', exit: { code: 0 } });
    expect(lines[0]).toMatchObject({ stream: 'stdout' });
    expect((await f.api.inject({ method: 'DELETE', url: `/v1/tasks/${id}` })).json()).toEqual({ id, result: 'terminating' });
    expect((await f.api.inject({ url: '/v1/tasks/task-00000000000000000000' })).statusCode).toBe(404);
  });
});
