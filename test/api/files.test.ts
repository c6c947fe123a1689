// File endpoints' request checks, over a real store with a fake lifecycle (no machines): bad parameters
// are refused naming them before any machine is touched; a stopped instance and a finished task are 409.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';

describe('file API', () => {
  let f: ApiFixture;
  let inst: string;
  beforeEach(async () => {
    f = await apiFixture();
    inst = (await f.api.inject({ method: 'POST', url: '/v1/instances', payload: { command: ['httpd'], expose: [8080] } })).json().metadata.uid;
  });
  afterEach(() => f.close());

  const get = (url: string) => f.api.inject({ method: 'GET', url });

  it('refuses a missing or relative path, a bad mode, timeout, maxBytes or mask, naming the parameter', async () => {
    expect((await get(`/v1/instances/${inst}/files`)).json()).toMatchObject({ error: 'invalid query parameter: path: is missing', reason: 'AEGIS_INVALID' });
    expect((await get(`/v1/instances/${inst}/files/stat?path=etc/passwd`)).json()).toMatchObject({ error: 'invalid query parameter: path: must be an absolute path, got "etc/passwd"', reason: 'AEGIS_INVALID' });
    expect((await get(`/v1/instances/${inst}/files?path=/x&timeoutMs=soon`)).json().error).toBe('invalid query parameter: timeoutMs: an integer from 1 to 86400000, got "soon"');
    expect((await get(`/v1/instances/${inst}/files?path=/x&maxBytes=-1`)).json().error).toBe('invalid query parameter: maxBytes: a number of bytes, got "-1"');
    expect((await get(`/v1/instances/${inst}/files?path=/x&mask=yes`)).json().error).toBe('invalid query parameter: mask: expected true or false');
    const badMode = await f.api.inject({ method: 'PUT', url: `/v1/instances/${inst}/files?path=/x&mode=999`, headers: { 'content-type': 'application/octet-stream' }, payload: 'x' });
    expect(badMode.statusCode).toBe(400);
    expect(badMode.json().error).toBe('invalid query parameter: mode: octal permission bits such as 644, got "999"');
    const badType = await f.api.inject({ method: 'PUT', url: `/v1/instances/${inst}/files?path=/x`, headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(badType.json()).toEqual({ error: 'the body must be application/octet-stream (a file) or application/x-tar (a directory), got "text/plain"', reason: 'AEGIS_INVALID' });
  });

  it('refuses a stopped instance and a finished task with 409, an unknown one with 404; watch is 501', async () => {
    const stopped = await get(`/v1/instances/${inst}/files?path=/etc/passwd`);
    expect(stopped.statusCode).toBe(409);
    expect(stopped.json().error).toBe(`instance ${inst} is stopped; it starts again on its next connection (or: aegis app serve)`);
    expect((await get('/v1/instances/nope/files?path=/x')).statusCode).toBe(404);
    const task = f.store.create('Task', { spec: { command: ['true'] }, status: { phase: 'Succeeded' }, source: 'test' });
    const finished = await get(`/v1/tasks/${task.metadata.uid}/files/list?path=/`);
    expect(finished.statusCode).toBe(409);
    expect(finished.json().error).toMatch(/has finished and its machine is gone/);
    expect((await f.api.inject({ method: 'POST', url: `/v1/tasks/${task.metadata.uid}/start` })).statusCode).toBe(200);
    expect((await get(`/v1/instances/${inst}/files/watch?path=/`)).json()).toEqual({ error: 'watching files is not supported yet', reason: 'AEGIS_NOT_SUPPORTED' });
  });
});
