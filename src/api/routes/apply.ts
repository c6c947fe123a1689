// POST /v1/apply: a set of manifests written in one transaction (see applyObjects); `dryRun` reports the plan.
import type { FastifyInstance } from 'fastify';
import { applyObjects, type ApplyRequest } from '../../apply/apply-objects.js';
import { invalid } from '../../errors/codes.js';
import type { ApiServices } from '../services.js';

export function applyRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post<{ Body: Partial<ApplyRequest> }>('/v1/apply', async (req) => {
    const b = req.body ?? {};
    if (typeof b.source !== 'string' || !Array.isArray(b.objects)) throw invalid('apply needs {"source": "…", "objects": [manifests]}');
    if (b.selector !== undefined && (typeof b.selector !== 'object' || b.selector === null || Object.values(b.selector).some((v) => typeof v !== 'string'))) {
      throw invalid('selector must map label keys to values');
    }
    const results = applyObjects(s.store, { source: b.source, objects: b.objects, prune: b.prune === true, ...(b.selector ? { selector: b.selector } : {}), dryRun: b.dryRun === true });
    return { results };
  });
}
