// Generic resource endpoints /v1/resources/{kind}[/{name}]: the store's create/read/update/delete over HTTP.
// The spec is the store's to validate (with `spec.…` paths, as apply reports them); the route checks the rest.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalid } from '../../errors/codes.js';
import { labelsSchema } from '../../resources/envelope.js';
import { KINDS, parseKind } from '../../resources/kinds.js';
import { parseLabelSelector, SELECTOR_RULE } from '../../resources/label-selector.js';
import { present } from '../present.js';
import { anyResourceReply, deleteResultSchema, listReply } from '../reply-schemas.js';
import { flag, kindNameParams, kindParams } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

const writeBody = z.object(
  {
    metadata: z.object({ name: z.string().optional(), labels: labelsSchema.optional(), resourceVersion: z.number().int().optional() }).optional(),
    spec: z.unknown(),
  },
  { error: 'request body must be a JSON object with metadata and spec' },
);

export function resourceRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'GET',
    url: '/v1/resources/:kind',
    params: kindParams,
    query: z.object({ labels: z.string().optional() }),
    replies: { 200: listReply(anyResourceReply) },
    handler: async ({ params, query }) => {
      const kind = parseKind(params.kind);
      const labels = query.labels ? parseLabelSelector(query.labels) : undefined;
      if (query.labels && !labels) throw invalid(`bad label selector "${query.labels}": ${SELECTOR_RULE}`);
      return { items: s.store.list(kind, { labels }).map(present) };
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/resources/:kind/:name',
    params: kindNameParams,
    replies: { 200: anyResourceReply },
    handler: async ({ params }) => present(s.store.mustGet(parseKind(params.kind), params.name)),
  });

  route(app, {
    method: 'POST',
    url: '/v1/resources/:kind',
    params: kindParams,
    body: writeBody,
    replies: { 201: anyResourceReply },
    handler: async ({ params, body, req, reply }) => {
      const created = s.store.create(parseKind(params.kind), { name: body.metadata?.name, labels: body.metadata?.labels, spec: body.spec, source: sourceOf(req.headers) });
      return reply.status(201).send(present(created));
    },
  });

  route(app, {
    method: 'PUT',
    url: '/v1/resources/:kind/:name',
    params: kindNameParams,
    body: writeBody,
    replies: { 200: anyResourceReply },
    handler: async ({ params, body }) =>
      present(s.store.update(parseKind(params.kind), params.name, { spec: body.spec, labels: body.metadata?.labels, resourceVersion: body.metadata?.resourceVersion })),
  });

  route(app, {
    method: 'DELETE',
    url: '/v1/resources/:kind/:name',
    params: kindNameParams,
    query: z.object({ force: flag }),
    replies: { 200: z.strictObject({ kind: z.enum(KINDS), name: z.string(), result: deleteResultSchema }) },
    handler: async ({ params, query }) => {
      const kind = parseKind(params.kind);
      const cur = s.store.mustGet(kind, params.name);
      const result = s.store.delete(kind, cur.metadata.uid, { force: query.force });
      return { kind, name: cur.metadata.name, result };
    },
  });
}
