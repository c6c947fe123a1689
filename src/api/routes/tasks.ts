// Task endpoints: POST /v1/tasks, GET /v1/tasks[/{id}], GET /v1/tasks/{id}/logs (NDJSON, follow), DELETE,
// POST /v1/tasks/{id}/start and /release (a task's `hold` points); its files are in files.ts.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { assertFitsHost } from '../../config/host-capacity.js';
import { resolveResources } from '../../resources/machine-resources.js';
import { finalizersFor } from '../../model/metadata-keys.js';
import { present } from '../present.js';
import { deleteResultSchema, listReply, resourceReply } from '../reply-schemas.js';
import { flag, idParams, specBody } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

export function taskRoutes(app: FastifyInstance, s: ApiServices): void {
  const logs = s.lifecycle.taskLogs;
  route(app, {
    method: 'POST',
    url: '/v1/tasks',
    ...specBody('Task'),
    replies: { 201: resourceReply('Task').extend({ id: z.string() }) },
    handler: async ({ body, req, reply }) => {
      // A machine the host cannot hold is refused now, before anything is written.
      assertFitsHost(resolveResources(body.resources));
      const task = s.store.create('Task', { spec: body, source: sourceOf(req.headers), finalizers: finalizersFor('Task') });
      return reply.status(201).send({ id: task.metadata.uid, ...present(task) });
    },
  });

  route(app, { method: 'GET', url: '/v1/tasks', replies: { 200: listReply(resourceReply('Task')) }, handler: async () => ({ items: s.store.list('Task').map(present) }) });

  route(app, {
    method: 'GET',
    url: '/v1/tasks/:id',
    params: idParams,
    replies: { 200: resourceReply('Task') },
    handler: async ({ params }) => present(s.store.mustGet('Task', params.id)),
  });

  route(app, {
    method: 'GET',
    url: '/v1/tasks/:id/logs',
    params: idParams,
    query: z.object({ follow: flag }),
    replies: {},
    streams: 'application/x-ndjson',
    handler: async ({ params, query, reply }) => {
      const task = s.store.mustGet('Task', params.id);
      const abort = new AbortController();
      // A reader that goes away stops its follow; the task itself keeps running.
      reply.raw.on('close', () => abort.abort());
      const body = Readable.from(logs.get(task.metadata.uid).read({ follow: query.follow, signal: abort.signal }), { objectMode: false });
      return reply.type('application/x-ndjson').send(body);
    },
  });

  // The points a task with `hold` waits at (aegis run --copy / --artifacts): its command starts, its machine goes.
  for (const point of ['start', 'release'] as const) {
    route(app, {
      method: 'POST',
      url: `/v1/tasks/:id/${point}`,
      params: idParams,
      replies: { 200: z.strictObject({ id: z.string(), [point === 'start' ? 'started' : 'released']: z.literal(true) }) },
      handler: async ({ params }) => {
        const task = s.store.mustGet('Task', params.id);
        s.lifecycle.taskMachines.open(task.metadata.uid, point);
        return { id: task.metadata.uid, [point === 'start' ? 'started' : 'released']: true };
      },
    });
  }

  route(app, {
    method: 'DELETE',
    url: '/v1/tasks/:id',
    params: idParams,
    replies: { 200: z.strictObject({ id: z.string(), result: deleteResultSchema }) },
    handler: async ({ params }) => {
      const task = s.store.mustGet('Task', params.id);
      const result = s.store.delete('Task', task.metadata.uid);
      return { id: task.metadata.uid, result };
    },
  });
}
