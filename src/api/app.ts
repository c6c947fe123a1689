// Builds the daemon's HTTP API without listening, so tests can drive it through inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installErrorHandling } from './error-handler.js';
import { applyRoutes } from './routes/apply.js';
import { kitRoutes } from './routes/kits.js';
import { resourceRoutes } from './routes/resources.js';
import { statusRoutes } from './routes/status.js';
import type { ApiServices } from './services.js';

/** Request bodies larger than this are refused with 413: manifests are small, bulk data never goes through the API. */
export const BODY_LIMIT = 1024 * 1024;

export type RouteRegistrar = (app: FastifyInstance, services: ApiServices) => void;

export function buildApi(services: ApiServices, opts: { logger?: FastifyServerOptions['logger']; routes?: RouteRegistrar[] } = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Fastify logs a request's method and url only, never its body, which may hold secret values.
    forceCloseConnections: true,
  });
  installErrorHandling(app);
  for (const register of [statusRoutes, resourceRoutes, kitRoutes, applyRoutes, ...(opts.routes ?? [])]) register(app, services);
  return app;
}
