// POST /v1/ui: the dashboard's URL with its token, starting the dashboard on first call (`aegis ui`). Only on
// the daemon's unix socket (0600: its owner alone), never on the dashboard itself.
import type { FastifyInstance } from 'fastify';

export function uiRoutes(app: FastifyInstance, dashboard: { url(): Promise<string> }): void {
  app.post('/v1/ui', async () => ({ url: await dashboard.url() }));
}
