// Instance endpoints: POST/GET /v1/instances, GET/DELETE /v1/instances/{id}, POST /v1/apps/{app}/serve,
// POST /v1/instances/{id}/exec (NDJSON output, exit last), POST /v1/instances/{id}/keepalive.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertFitsHost } from '../../config/host-capacity.js';
import { invalid, notFound } from '../../errors/codes.js';
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
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';

interface IdParams { id: string }
interface ExecBody { command?: unknown; env?: unknown; workdir?: unknown; user?: unknown; mask?: unknown }

/**
 * The instance TARGET means: an app's name (or id) always means that app's own instance, never another
 * instance that happens to carry the name; an instance's name or id otherwise (src/resources/instance-names.ts).
 */
export function findInstance(s: ApiServices, target: string): StoredResource<InstanceSpec> {
  const { app, instance } = instanceByName(s.store, target);
  if (instance) return instance;
  throw notFound(app !== undefined ? `app "${app}" has no instance (serve it with: aegis app serve ${app})` : `no instance or app named "${target}"`);
}

function execRequest(req: FastifyRequest): ExecBody {
  // With stdin the body is the input stream and the request rides in a header.
  if (req.headers['content-type']?.startsWith('application/octet-stream')) {
    try {
      return JSON.parse(String(req.headers['x-aegis-exec'] ?? '{}')) as ExecBody;
    } catch {
      throw invalid('x-aegis-exec must be a JSON object');
    }
  }
  return (req.body ?? {}) as ExecBody;
}

export function instanceRoutes(app: FastifyInstance, s: ApiServices): void {
  const instances = s.lifecycle.instances;
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  const create = (spec: Record<string, unknown>, source: string) => {
    // A machine the host cannot hold is refused now, before anything is written (an app not found is the store's to report).
    const valid = validateSpec('Instance', spec);
    if (!valid.app || s.store.get('App', valid.app)) assertFitsHost(instanceResources(s.store, valid));
    return s.store.create('Instance', { spec, source, finalizers: finalizersFor('Instance') });
  };

  app.post<{ Body: Record<string, unknown> }>('/v1/instances', async (req, reply) => {
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw invalid('request body must be a JSON object (the Instance spec)');
    return reply.status(201).send(present(create(req.body, sourceOf(req.headers))));
  });

  app.get('/v1/instances', async () => ({ items: s.store.list('Instance').map(present) }));
  app.get<{ Params: IdParams }>('/v1/instances/:id', async (req) => present(findInstance(s, req.params.id)));

  app.delete<{ Params: IdParams }>('/v1/instances/:id', async (req) => {
    const inst = s.store.mustGet('Instance', req.params.id);
    const result = s.store.delete('Instance', inst.metadata.uid);
    return { id: inst.metadata.uid, result };
  });

  // Serving an app that is served already returns its instance (200); otherwise a new one (201).
  app.post<{ Params: { app: string } }>('/v1/apps/:app/serve', async (req, reply) => {
    const target = s.store.mustGet<AppSpec>('App', req.params.app);
    const name = target.metadata.name;
    const existing = appInstance(s.store, name);
    if (existing) return reply.status(200).send(present(existing));
    if (effectiveApp(s.store, target).expose.length === 0) throw invalid(`app "${name}" exposes no port, so there is nothing to serve; recreate it with --expose PORT`);
    // Fail now, not in the background, when there is no release to run.
    pickRelease(s.store, name, target.spec.release);
    return reply.status(201).send(present(create({ app: name }, sourceOf(req.headers))));
  });

  app.post<{ Params: IdParams }>('/v1/instances/:id/keepalive', async (req) => {
    const inst = findInstance(s, req.params.id);
    instances.touch(inst.metadata.uid);
    return { id: inst.metadata.uid };
  });

  app.post<{ Params: IdParams }>('/v1/instances/:id/exec', async (req, reply) => {
    const inst = findInstance(s, req.params.id);
    const body = execRequest(req);
    if (!Array.isArray(body.command) || body.command.length === 0 || !body.command.every((a) => typeof a === 'string')) throw invalid('exec needs "command": a non-empty array of strings');
    if (body.env !== undefined && (typeof body.env !== 'object' || body.env === null || Object.values(body.env).some((v) => typeof v !== 'string'))) throw invalid('"env" must map names to strings');
    if (body.workdir !== undefined && typeof body.workdir !== 'string') throw invalid('"workdir" must be a string');
    if (body.user !== undefined && (typeof body.user !== 'string' || !parseUserSpec(body.user))) throw invalid(`"user" must be ${USER_SPEC_RULE}`);
    if (body.mask !== undefined && typeof body.mask !== 'boolean') throw invalid('"mask" must be true or false');
    const stdin = req.headers['content-type']?.startsWith('application/octet-stream') ? (req.body as Readable) : undefined;
    const exec = await instances.exec(inst.metadata.uid, {
      argv: body.command as string[],
      ...(body.env ? { env: body.env as Record<string, string> } : {}),
      ...(body.workdir ? { cwd: body.workdir as string } : {}),
      ...(body.user ? { user: body.user as string } : {}),
      ...(stdin ? { stdin } : {}),
      ...(body.mask === true ? { mask: true } : {}),
    });
    // The client went away mid-exec: stop the command rather than leave it running unseen.
    reply.raw.on('close', exec.cancel);
    return reply.type('application/x-ndjson').send(exec.output);
  });
}
