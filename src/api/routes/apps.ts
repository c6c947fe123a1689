// App endpoints: POST/GET /v1/apps, GET/DELETE /v1/apps/{app}, POST /v1/apps/{app}/publish, GET /v1/apps/{app}/releases.
import type { FastifyInstance } from 'fastify';
import { conflict, invalid } from '../../errors/codes.js';
import { effectiveApp } from '../../model/effective-app.js';
import { createRelease, releasesOf } from '../../model/releases.js';
import { finalizersFor, PURGE_WORKSPACE_LABEL } from '../../model/metadata-keys.js';
import type { AppSpec } from '../../resources/app.js';
import { present } from '../present.js';
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';

interface AppParams { app: string }


export function appRoutes(app: FastifyInstance, s: ApiServices): void {
  // Body: the App spec plus `name` (the seed's flat form of `aegis app create`).
  app.post<{ Body: Record<string, unknown> }>('/v1/apps', async (req, reply) => {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('request body must be a JSON object with name and the app spec');
    const { name, ...spec } = body;
    if (typeof name !== 'string') throw invalid('an app needs a name', [{ path: 'name', message: 'required' }]);
    const created = s.store.create('App', { name, spec, source: sourceOf(req.headers), finalizers: finalizersFor('App') });
    return reply.status(201).send(present(created));
  });

  app.get('/v1/apps', async () => ({ items: s.store.list('App').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map(present) }));

  app.get<{ Params: AppParams }>('/v1/apps/:app', async (req) => present(s.store.mustGet('App', req.params.app)));

  app.delete<{ Params: AppParams; Querystring: { purge?: string } }>('/v1/apps/:app', async (req) => {
    const cur = s.store.mustGet('App', req.params.app);
    if (req.query.purge === 'true') s.store.update('App', cur.metadata.uid, { labels: { ...cur.metadata.labels, [PURGE_WORKSPACE_LABEL]: 'true' } });
    const result = s.store.delete('App', cur.metadata.uid);
    return { name: cur.metadata.name, id: cur.metadata.uid, result };
  });

  app.post<{ Params: AppParams; Body: { label?: unknown } | undefined }>('/v1/apps/:app/publish', async (req, reply) => {
    const label = req.body?.label;
    if (label !== undefined && typeof label !== 'string') throw invalid('label must be a string');
    const created = s.store.transaction(() => {
      const target = s.store.mustGet<AppSpec>('App', req.params.app);
      if (target.metadata.deletionTimestamp) throw conflict(`app "${target.metadata.name}" is being deleted`);
      const name = target.metadata.name;
      const releases = releasesOf(s.store, name);
      const taken = label && releases.find((r) => r.spec.label === label);
      if (taken) throw conflict(`app "${name}" already has a release labelled ${label} (${taken.metadata.uid})`);
      // The image is fixed at publish time: a later change of the app (or its kit) makes a new release.
      const image = effectiveApp(s.store, target).image;
      return createRelease(s.store, name, image, { ...(label ? { label } : {}), source: sourceOf(req.headers) });
    });
    return reply.status(201).send(present(created));
  });

  app.get<{ Params: AppParams }>('/v1/apps/:app/releases', async (req) => {
    const target = s.store.mustGet('App', req.params.app);
    return { items: releasesOf(s.store, target.metadata.name).map(present) };
  });
}
