// App endpoints: POST/GET /v1/apps, GET/DELETE /v1/apps/{app}, POST /v1/apps/{app}/publish, GET /v1/apps/{app}/releases.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { conflict } from '../../errors/codes.js';
import { effectiveApp } from '../../model/effective-app.js';
import { createRelease, releasesOf } from '../../model/releases.js';
import { finalizersFor, PURGE_WORKSPACE_LABEL } from '../../model/metadata-keys.js';
import type { AppSpec } from '../../resources/app.js';
import { present } from '../present.js';
import { deleteResultSchema, listReply, resourceReply } from '../reply-schemas.js';
import { appParams, flag } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

// The seed's flat form of `aegis app create`: the App spec plus `name`. The spec is the store's to validate
// (issues at `spec.…`, as for every other way an app is written).
const createBody = z.looseObject({ name: z.string() }, { error: 'request body must be a JSON object with name and the app spec' });

export function appRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'POST',
    url: '/v1/apps',
    body: createBody,
    replies: { 201: resourceReply('App') },
    handler: async ({ body, req, reply }) => {
      const { name, ...spec } = body;
      const created = s.store.create('App', { name, spec, source: sourceOf(req.headers), finalizers: finalizersFor('App') });
      return reply.status(201).send(present(created));
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/apps',
    replies: { 200: listReply(resourceReply('App')) },
    handler: async () => ({ items: s.store.list('App').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map(present) }),
  });

  route(app, {
    method: 'GET',
    url: '/v1/apps/:app',
    params: appParams,
    replies: { 200: resourceReply('App') },
    handler: async ({ params }) => present(s.store.mustGet('App', params.app)),
  });

  route(app, {
    method: 'DELETE',
    url: '/v1/apps/:app',
    params: appParams,
    query: z.object({ purge: flag }),
    replies: { 200: z.strictObject({ name: z.string(), id: z.string(), result: deleteResultSchema }) },
    handler: async ({ params, query }) => {
      const cur = s.store.mustGet('App', params.app);
      if (query.purge) s.store.update('App', cur.metadata.uid, { labels: { ...cur.metadata.labels, [PURGE_WORKSPACE_LABEL]: 'true' } });
      const result = s.store.delete('App', cur.metadata.uid);
      return { name: cur.metadata.name, id: cur.metadata.uid, result };
    },
  });

  route(app, {
    method: 'POST',
    url: '/v1/apps/:app/publish',
    params: appParams,
    // No body at all publishes without a label.
    body: z.object({ label: z.string({ error: 'must be a string' }).optional() }).nullish(),
    replies: { 201: resourceReply('Release') },
    handler: async ({ params, body, req, reply }) => {
      const label = body?.label;
      const created = s.store.transaction(() => {
        const target = s.store.mustGet<AppSpec>('App', params.app);
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
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/apps/:app/releases',
    params: appParams,
    replies: { 200: listReply(resourceReply('Release')) },
    handler: async ({ params }) => {
      const target = s.store.mustGet('App', params.app);
      return { items: releasesOf(s.store, target.metadata.name).map(present) };
    },
  });
}
