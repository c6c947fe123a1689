// GET /v1/resources/{kind}/{name}/events: a resource's recent events (see EventRecorder), oldest first.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseKind } from '../../resources/kinds.js';
import { listReply } from '../reply-schemas.js';
import { kindNameParams } from '../request-schemas.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

const eventSchema = z.strictObject({ time: z.iso.datetime(), type: z.enum(['Normal', 'Warning']), reason: z.string(), message: z.string() });

export function eventRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'GET',
    url: '/v1/resources/:kind/:name/events',
    params: kindNameParams,
    replies: { 200: listReply(eventSchema) },
    handler: async ({ params }) => {
      const r = s.store.mustGet(parseKind(params.kind), params.name);
      return { items: s.events.of(r.metadata.uid) };
    },
  });
}
