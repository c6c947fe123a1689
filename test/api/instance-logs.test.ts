// Instance log endpoints: history and follow as NDJSON, by id and by app name, with tail, since and source.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { parseSince } from '../../src/api/routes/instance-logs.js';
import type { InstanceLogs } from '../../src/logs/instance-log.js';
import type { Store } from '../../src/store/store.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';

describe('instance log API', () => {
  let f: ApiFixture;
  let store: Store;
  let logs: InstanceLogs;
  let api: FastifyInstance;

  beforeEach(async () => {
    f = await apiFixture();
    ({ store, api } = f);
    logs = f.services.lifecycle.instanceLogs;
  });
  afterEach(() => f.close());

  const adHoc = () => store.create('Instance', { spec: { command: ['x'], expose: [80] }, source: 'test' });
  const body = (payload: string) => payload.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('streams an instance’s history as NDJSON, by id and by name, with tail and source', async () => {
    const inst = adHoc();
    const w = logs.writer(inst.metadata.uid, '');
    w.write('stdout', 'boot', Buffer.from('booting\n'));
    w.write('stdout', 'server', Buffer.from('Serving HTTP on 0.0.0.0 port 80 ...\n'));
    w.write('stderr', 'exec', Buffer.from('exec says\n'), 'exec-1');
    const res = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.uid}/logs` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(body(res.payload).map((e) => e.line)).toEqual(['booting', 'Serving HTTP on 0.0.0.0 port 80 ...', 'exec says']);
    expect(body(res.payload)[2]).toMatchObject({ stream: 'stderr', source: 'exec', exec_id: 'exec-1', instance: inst.metadata.uid });

    const byName = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.name}/logs?tail=1` });
    expect(body(byName.payload).map((e) => e.line)).toEqual(['exec says']);
    const filtered = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.uid}/logs?source=boot,server` });
    expect(body(filtered.payload).map((e) => e.source)).toEqual(['boot', 'server']);
    const recent = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.uid}/logs?since=1h` });
    expect(body(recent.payload)).toHaveLength(3);
    const future = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.uid}/logs?since=2999-01-01T00:00:00Z` });
    expect(body(future.payload)).toHaveLength(0);
  });

  it('refuses bad query values with 400 and unknown instances with 404', async () => {
    const inst = adHoc();
    for (const q of ['since=yesterday', 'since=5', 'tail=-1', 'tail=x', 'source=server,nope']) {
      const res = await api.inject({ method: 'GET', url: `/v1/instances/${inst.metadata.uid}/logs?${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.json().reason).toBe('AEGIS_INVALID');
    }
    const missing = await api.inject({ method: 'GET', url: '/v1/instances/inst-nope/logs' });
    expect(missing.statusCode).toBe(404);
  });

  it('resolves an app to its newest instance, and says how to serve an app without one', async () => {
    store.create('App', { name: 'web', spec: { image: 'alpine:3.21', command: ['httpd'], expose: [80] }, source: 'test' });
    const none = await api.inject({ method: 'GET', url: '/v1/apps/web/logs' });
    expect(none.statusCode).toBe(404);
    expect(none.json().error).toBe('app "web" has no instance (serve it with: aegis app serve web)');
    expect((await api.inject({ method: 'GET', url: '/v1/apps/nope/logs' })).statusCode).toBe(404);

    const older = store.create('Instance', { spec: { app: 'web' }, source: 'test' });
    const newer = store.create('Instance', { spec: { app: 'web' }, source: 'test' });
    logs.writer(older.metadata.uid, 'web').write('stdout', 'server', Buffer.from('old\n'));
    logs.writer(newer.metadata.uid, 'web').write('stdout', 'server', Buffer.from('new\n'));
    const res = await api.inject({ method: 'GET', url: '/v1/apps/web/logs' });
    expect(res.statusCode).toBe(200);
    expect(body(res.payload).map((e) => [e.line, e.app])).toEqual([['new', 'web']]);
  });

  it('follows live lines over a real connection and stops reading when the client goes away', async () => {
    const inst = adHoc();
    const uid = inst.metadata.uid;
    const w = logs.writer(uid, '');
    w.write('stdout', 'server', Buffer.from('first\n'));
    const address = await api.listen({ port: 0, host: '127.0.0.1' });
    const got: string[] = [];
    const req = http.get(`${address}/v1/instances/${uid}/logs?follow=true`);
    await new Promise<void>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          got.push(...chunk.split('\n').filter(Boolean).map((l) => JSON.parse(l).line));
          if (got.length === 1) w.write('stdout', 'server', Buffer.from('second\n'));
          if (got.length === 2) resolve();
        });
      });
    });
    expect(got).toEqual(['first', 'second']);
    expect(logs.followers(uid)).toBe(1);
    req.destroy();
    const deadline = Date.now() + 5000;
    while (logs.followers(uid) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(logs.followers(uid)).toBe(0);
  });

  it('parses since as a duration back from now or an ISO time', () => {
    const now = Date.parse('2026-02-19T10:00:00Z');
    expect(parseSince('10s', now).toISOString()).toBe('2026-02-19T09:59:50.000Z');
    expect(parseSince('2h', now).toISOString()).toBe('2026-02-19T08:00:00.000Z');
    expect(parseSince('1d', now).toISOString()).toBe('2026-02-18T10:00:00.000Z');
    expect(parseSince('2026-02-19T10:35:12Z', now).toISOString()).toBe('2026-02-19T10:35:12.000Z');
  });
});
