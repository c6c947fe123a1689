// POST /v1/apply: a set of manifests written in one transaction (see applyObjects); `dryRun` reports the plan.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { applyObjects } from '../../apply/apply-objects.js';
import { KINDS } from '../../resources/kinds.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

// Each object is validated as a manifest by applyObjects, with `objects.N.…` paths.
const applyBody = z.strictObject(
  {
    source: z.string(),
    objects: z.array(z.unknown()),
    prune: z.boolean().optional(),
    selector: z.record(z.string(), z.string({ error: 'selector must map label keys to values' })).optional(),
    dryRun: z.boolean().optional(),
  },
  { error: 'apply needs {"source": "…", "objects": [manifests]}' },
);

const applyResult = z.strictObject({
  kind: z.enum(KINDS),
  name: z.string(),
  action: z.enum(['created', 'configured', 'unchanged', 'pruned']),
  generation: z.number().int().positive().optional(),
  effect: z.enum(['live', 'next boot', 'restart']).optional(),
  fields: z.array(z.string()).optional(),
  patch: z.array(z.looseObject({ op: z.string(), path: z.string() })).optional(),
});

export function applyRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'POST',
    url: '/v1/apply',
    body: applyBody,
    replies: { 200: z.strictObject({ results: z.array(applyResult) }) },
    handler: async ({ body }) => ({
      results: applyObjects(s.store, { source: body.source, objects: body.objects, prune: body.prune === true, ...(body.selector ? { selector: body.selector } : {}), dryRun: body.dryRun === true }),
    }),
  });
}
