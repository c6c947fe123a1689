// GET /v1/resources/{kind}/{name}/events: a resource's recent events (see EventRecorder), oldest first.
import type { FastifyInstance } from 'fastify';
import { parseKind } from '../../resources/kinds.js';
import type { ApiServices } from '../services.js';

export function eventRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get<{ Params: { kind: string; name: string } }>('/v1/resources/:kind/:name/events', async (req) => {
    const r = s.store.mustGet(parseKind(req.params.kind), req.params.name);
    return { items: s.events.of(r.metadata.uid) };
  });
}
