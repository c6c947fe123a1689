// POST /v1/ui: the dashboard's URL with its token, starting the dashboard on first call (`aegis ui`). Only on
// the daemon's unix socket (0600: its owner alone), never on the dashboard itself.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../route.js';

export function uiRoutes(app: FastifyInstance, dashboard: { url(): Promise<string> }): void {
  route(app, {
    method: 'POST',
    url: '/v1/ui',
    replies: { 200: z.strictObject({ url: z.url() }) },
    handler: async () => ({ url: await dashboard.url() }),
  });
}
