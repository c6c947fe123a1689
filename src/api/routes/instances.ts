// Instance endpoints: POST/GET /v1/instances, GET/DELETE /v1/instances/{id}, POST /v1/apps/{app}/serve,
// POST /v1/instances/{id}/exec (NDJSON output, exit last), POST /v1/instances/{id}/keepalive,
// POST /v1/instances/{id}/{pause|resume|stop|restart}, GET /v1/instances/{id}/usage.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { assertFitsHost } from '../../config/host-capacity.js';
import { invalid, notFound } from '../../errors/codes.js';
import { INSTANCE_ACTIONS } from '../../lifecycle/instance-control.js';
import { parseUserSpec, USER_SPEC_RULE } from '../../protocol/user-spec.js';
import { effectiveApp } from '../../model/effective-app.js';
import { appInstance, instanceByName } from '../../model/app-instance.js';
import { instanceResources } from '../../model/instance-shape.js';
import { pickRelease } from '../../model/releases.js';
import type { AppSpec } from '../../resources/app.js';
import type { InstanceSpec } from '../../resources/instance.js';
import { validateSpec } from '../../resources/kinds.js';
import { finalizersFor } from '../../model/metadata-keys.js';
import type { StoredResource } from '../../store/stored-resource.js';
import { present } from '../present.js';
import { deleteResultSchema, listReply, resourceReply } from '../reply-schemas.js';
import { appParams, idParams, specBody } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

/**
 * The instance TARGET means: an app's name (or id) always means that app's own instance, never another
 * instance that happens to carry the name; an instance's name or id otherwise (src/resources/instance-names.ts).
 */
export function findInstance(s: ApiServices, target: string): StoredResource<InstanceSpec> {
  const { app, instance } = instanceByName(s.store, target);
  if (instance) return instance;
  throw notFound(app !== undefined ? `app "${app}" has no instance (serve it with: aegis app serve ${app})` : `no instance or app named "${target}"`);
}

const stringArray = 'a non-empty array of strings';
const execBody = z.object({
  command: z.array(z.string({ error: stringArray }), { error: stringArray }).min(1, { error: stringArray }),
  env: z.record(z.string(), z.string({ error: 'must map names to strings' }), { error: 'must map names to strings' }).optional(),
  workdir: z.string({ error: 'must be a string' }).optional(),
  user: z.string({ error: `must be ${USER_SPEC_RULE}` }).refine((u) => parseUserSpec(u) !== undefined, { error: `must be ${USER_SPEC_RULE}` }).optional(),
  /** Replace the machine's secret values in the output with `***`, as its log does (the MCP server asks for it). */
  mask: z.boolean({ error: 'must be true or false' }).optional(),
});

/** What the dashboard's charts read: the machine's state, connections, CPU time and memory where the backend reports them. */
const usageReply = z.strictObject({
  id: z.string(),
  at: z.iso.datetime(),
  state: z.string(),
  connections: z.number().int().nonnegative(),
  cpuMicros: z.number().nonnegative().optional(),
  memoryBytes: z.number().nonnegative().optional(),
  memoryLimitBytes: z.number().nonnegative().optional(),
});

const withStdin = (req: FastifyRequest) => req.headers['content-type']?.startsWith('application/octet-stream') === true;

/** The exec request: the JSON body, or with stdin (the body is the input stream) the `x-aegis-exec` header. */
function execRequest(req: FastifyRequest): unknown {
  if (!withStdin(req)) return req.body ?? {};
  try {
    return JSON.parse(String(req.headers['x-aegis-exec'] ?? '{}'));
  } catch {
    throw invalid('x-aegis-exec must be a JSON object');
  }
}

export function instanceRoutes(app: FastifyInstance, s: ApiServices): void {
  const instances = s.lifecycle.instances;
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  const create = (spec: InstanceSpec, source: string) => {
    // A machine the host cannot hold is refused now, before anything is written (an app not found is the store's to report).
    if (!spec.app || s.store.get('App', spec.app)) assertFitsHost(instanceResources(s.store, spec));
    return s.store.create('Instance', { spec, source, finalizers: finalizersFor('Instance') });
  };

  route(app, {
    method: 'POST',
    url: '/v1/instances',
    ...specBody('Instance'),
    replies: { 201: resourceReply('Instance') },
    handler: async ({ body, req, reply }) => reply.status(201).send(present(create(body, sourceOf(req.headers)))),
  });

  route(app, { method: 'GET', url: '/v1/instances', replies: { 200: listReply(resourceReply('Instance')) }, handler: async () => ({ items: s.store.list('Instance').map(present) }) });

  route(app, {
    method: 'GET',
    url: '/v1/instances/:id',
    params: idParams,
    replies: { 200: resourceReply('Instance') },
    handler: async ({ params }) => present(findInstance(s, params.id)),
  });

  route(app, {
    method: 'DELETE',
    url: '/v1/instances/:id',
    params: idParams,
    replies: { 200: z.strictObject({ id: z.string(), result: deleteResultSchema }) },
    handler: async ({ params }) => {
      const inst = s.store.mustGet('Instance', params.id);
      const result = s.store.delete('Instance', inst.metadata.uid);
      return { id: inst.metadata.uid, result };
    },
  });

  // Serving an app that is served already returns its instance (200); otherwise a new one (201).
  route(app, {
    method: 'POST',
    url: '/v1/apps/:app/serve',
    params: appParams,
    replies: { 200: resourceReply('Instance'), 201: resourceReply('Instance') },
    handler: async ({ params, req, reply }) => {
      const target = s.store.mustGet<AppSpec>('App', params.app);
      const name = target.metadata.name;
      const existing = appInstance(s.store, name);
      if (existing) return reply.status(200).send(present(existing));
      if (effectiveApp(s.store, target).expose.length === 0) throw invalid(`app "${name}" exposes no port, so there is nothing to serve; recreate it with --expose PORT`);
      // Fail now, not in the background, when there is no release to run.
      pickRelease(s.store, name, target.spec.release);
      return reply.status(201).send(present(create(validateSpec('Instance', { app: name }), sourceOf(req.headers))));
    },
  });

  route(app, {
    method: 'POST',
    url: '/v1/instances/:id/keepalive',
    params: idParams,
    replies: { 200: z.strictObject({ id: z.string() }) },
    handler: async ({ params }) => {
      const inst = findInstance(s, params.id);
      instances.touch(inst.metadata.uid);
      return { id: inst.metadata.uid };
    },
  });

  // Pause, resume, stop, restart by hand (the dashboard's buttons); the instance still wakes on demand after.
  route(app, {
    method: 'POST',
    url: '/v1/instances/:id/:action',
    params: z.strictObject({ id: z.string().min(1), action: z.enum(INSTANCE_ACTIONS, { error: `expected one of ${INSTANCE_ACTIONS.join(', ')}` }) }),
    replies: { 200: resourceReply('Instance') },
    handler: async ({ params }) => {
      const inst = findInstance(s, params.id);
      await instances.control(inst.metadata.uid, params.action);
      return present(s.store.mustGet('Instance', inst.metadata.uid));
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/instances/:id/usage',
    params: idParams,
    replies: { 200: usageReply },
    handler: async ({ params }) => {
      const inst = findInstance(s, params.id);
      return { id: inst.metadata.uid, at: new Date().toISOString(), ...((await instances.usage(inst.metadata.uid)) ?? { state: inst.status.state ?? 'stopped', connections: 0 }) };
    },
  });

  // NDJSON output lines, the exit last; with stdin the request body is the command's input, streamed.
  route(app, {
    method: 'POST',
    url: '/v1/instances/:id/exec',
    params: idParams,
    body: execBody,
    bodyFrom: execRequest,
    bodyIssues: { subject: 'invalid exec request', path: [] },
    replies: {},
    streams: 'application/x-ndjson',
    handler: async ({ params, body, req, reply }) => {
      const inst = findInstance(s, params.id);
      const exec = await instances.exec(inst.metadata.uid, {
        argv: body.command,
        ...(body.env ? { env: body.env } : {}),
        ...(body.workdir ? { cwd: body.workdir } : {}),
        ...(body.user ? { user: body.user } : {}),
        ...(withStdin(req) ? { stdin: req.body as Readable } : {}),
        ...(body.mask === true ? { mask: true } : {}),
      });
      // The client went away mid-exec: stop the command rather than leave it running unseen.
      reply.raw.on('close', exec.cancel);
      return reply.type('application/x-ndjson').send(exec.output);
    },
  });
}
