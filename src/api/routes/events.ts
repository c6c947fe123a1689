// GET /v1/resources/{kind}/{name}/events: a resource's recent events (see EventRecorder), oldest first.
import type { FastifyInstance } from 'fastify';
import type { EventRecorder } from '../../store/event-recorder.js';
import { parseKind } from '../../resources/kinds.js';
import type { ApiServices } from '../services.js';

export function eventRoutes(recorder: EventRecorder) {
  return (app: FastifyInstance, s: ApiServices): void => {
    app.get<{ Params: { kind: string; name: string } }>('/v1/resources/:kind/:name/events', async (req) => {
      const r = s.store.mustGet(parseKind(req.params.kind), req.params.name);
      return { items: recorder.of(r.metadata.uid) };
    });
  };
}
