// Task endpoints: POST /v1/tasks, GET /v1/tasks[/{id}], GET /v1/tasks/{id}/logs (NDJSON, follow), DELETE,
// POST /v1/tasks/{id}/start and /release (a task's `hold` points); its files are in files.ts.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { assertFitsHost } from '../../config/host-capacity.js';
import type { TaskLogs } from '../../logs/task-logs.js';
import { validateSpec } from '../../resources/kinds.js';
import { resolveResources } from '../../resources/machine-resources.js';
import { finalizersFor } from '../../model/metadata-keys.js';
import { present } from '../present.js';
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';

interface IdParams { id: string }

export function taskRoutes(app: FastifyInstance, s: ApiServices): void {
  const logs = s.lifecycle.taskLogs;
  app.post<{ Body: Record<string, unknown> }>('/v1/tasks', async (req, reply) => {
    // A machine the host cannot hold is refused now, before anything is written.
    assertFitsHost(resolveResources(validateSpec('Task', req.body).resources));
    const task = s.store.create('Task', {
      spec: req.body,
      source: sourceOf(req.headers),
      finalizers: finalizersFor('Task'),
    });
    return reply.status(201).send({ id: task.metadata.uid, ...present(task) });
  });

  app.get('/v1/tasks', async () => ({ items: s.store.list('Task').map(present) }));

  app.get<{ Params: IdParams }>('/v1/tasks/:id', async (req) => present(s.store.mustGet('Task', req.params.id)));

  app.get<{ Params: IdParams; Querystring: { follow?: string } }>('/v1/tasks/:id/logs', async (req, reply) => {
    const task = s.store.mustGet('Task', req.params.id);
    const abort = new AbortController();
    // A reader that goes away stops its follow; the task itself keeps running.
    reply.raw.on('close', () => abort.abort());
    const body = Readable.from(logs.get(task.metadata.uid).read({ follow: req.query.follow === 'true', signal: abort.signal }), { objectMode: false });
    return reply.type('application/x-ndjson').send(body);
  });

  // The points a task with `hold` waits at (aegis run --copy / --artifacts): its command starts, its machine goes.
  app.post<{ Params: IdParams }>('/v1/tasks/:id/start', async (req) => {
    const task = s.store.mustGet('Task', req.params.id);
    s.lifecycle.taskMachines.open(task.metadata.uid, 'start');
    return { id: task.metadata.uid, started: true };
  });

  app.post<{ Params: IdParams }>('/v1/tasks/:id/release', async (req) => {
    const task = s.store.mustGet('Task', req.params.id);
    s.lifecycle.taskMachines.open(task.metadata.uid, 'release');
    return { id: task.metadata.uid, released: true };
  });

  app.delete<{ Params: IdParams }>('/v1/tasks/:id', async (req) => {
    const task = s.store.mustGet('Task', req.params.id);
    const result = s.store.delete('Task', task.metadata.uid);
    return { id: task.metadata.uid, result };
  });
}
