// Route contracts (src/api/route.ts): every route is registered with one; a bad request is one AEGIS_INVALID
// line naming the field; a reply its schema refuses is a 500 naming the path (on servers that check, as the
// tests' do), and a Secret shown with a value would be such a reply.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApi, createApiServer } from '../../src/api/app.js';
import { resourceReply } from '../../src/api/reply-schemas.js';
import { checkReplies, route } from '../../src/api/route.js';
import { apiFixture, type ApiFixture } from '../support/api-fixture.js';

describe('route contracts', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  it('covers every route the API registers', async () => {
    const server = createApiServer();
    const routes: { method: string; url: string; contract: boolean }[] = [];
    server.addHook('onRoute', (r) => {
      if (r.method !== 'HEAD') routes.push({ method: String(r.method), url: r.url, contract: (r.config as { contract?: unknown } | undefined)?.contract !== undefined });
    });
    buildApi(f.services, server);
    await server.ready();
    expect(routes.length).toBeGreaterThan(30);
    expect(routes.filter((r) => !r.contract)).toEqual([]);
    await server.close();
  });

  it('refuses a bad path, query or body parameter in one line that names it', async () => {
    await f.api.inject({ method: 'POST', url: '/v1/apps', payload: { name: 'web', image: 'busybox:1.36', command: ['true'] } });
    const flag = await f.api.inject({ method: 'DELETE', url: '/v1/apps/web?purge=maybe' });
    expect(flag.statusCode).toBe(400);
    expect(flag.json()).toEqual({ error: 'invalid query parameter: purge: expected true or false', reason: 'AEGIS_INVALID', issues: [{ path: 'purge', message: 'expected true or false' }] });
    expect(f.store.get('App', 'web')?.metadata.deletionTimestamp).toBeUndefined();

    const apply = await f.api.inject({ method: 'POST', url: '/v1/apply', payload: { source: 'x', objects: [], prune: 'yes' } });
    expect(apply.json()).toMatchObject({ reason: 'AEGIS_INVALID', issues: [{ path: 'prune' }] });
    expect(apply.json().error).toMatch(/^invalid request body: prune: /);

    const pull = await f.api.inject({ method: 'POST', url: '/v1/images/pull', payload: { ref: 'busybox', policy: 'sometimes' } });
    expect(pull.json()).toEqual({ error: 'invalid request body: policy: policy must be one of always, missing, never', reason: 'AEGIS_INVALID', issues: [{ path: 'policy', message: 'policy must be one of always, missing, never' }] });

    const task = await f.api.inject({ method: 'POST', url: '/v1/tasks', payload: { command: 'echo hi' } });
    expect(task.json()).toMatchObject({ reason: 'AEGIS_INVALID', issues: [{ path: 'spec.command' }] });
    expect(task.json().error).toMatch(/^invalid task spec: spec\.command: /);
  });

  it('answers 500 naming the path when a reply breaks its schema, and checks error replies too', async () => {
    const server = createApiServer();
    checkReplies(server);
    let answer: unknown = { items: [{ id: 'a' }] };
    route(server, { method: 'GET', url: '/x', replies: { 200: z.strictObject({ items: z.array(z.strictObject({ id: z.string() })) }) }, handler: async () => answer });
    route(server, { method: 'GET', url: '/created', replies: { 200: z.object({}) }, handler: async ({ reply }) => reply.status(201).send({}) });
    await server.ready();
    expect((await server.inject({ url: '/x' })).json()).toEqual(answer);
    answer = { items: [{ id: 7, token: 'hunter2' }] };
    const broken = await server.inject({ url: '/x' });
    expect(broken.statusCode).toBe(500);
    expect(broken.json()).toEqual({ error: 'GET /x 200: reply does not match its schema at items.0.id (invalid_type), items.0 (unrecognized_keys)', reason: 'AEGIS_INTERNAL' });
    expect(broken.body).not.toContain('hunter2');
    expect((await server.inject({ url: '/created' })).json()).toEqual({ error: 'GET /created 201: no reply schema for this status', reason: 'AEGIS_INTERNAL' });
    await server.close();
  });

  it("shows a Secret's keys only: a reply with a value would break its schema", async () => {
    const res = await f.api.inject({ method: 'POST', url: '/v1/resources/secrets', payload: { metadata: { name: 'keys' }, spec: { data: { TOKEN: 'hunter2' } } } });
    expect(res.statusCode).toBe(201);
    expect(res.json().spec.data).toEqual({ TOKEN: '<redacted>' });
    expect(res.body).not.toContain('hunter2');
    const leaked = { ...res.json(), spec: { data: { TOKEN: 'hunter2' } } };
    expect(resourceReply('Secret').safeParse(leaked).success).toBe(false);
  });
});
