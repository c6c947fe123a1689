// Builds the daemon's HTTP API without listening, so tests can drive it through inject(): every route, over
// the services handed in one object.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installErrorHandling } from './error-handler.js';
import { applyRoutes } from './routes/apply.js';
import { appRoutes } from './routes/apps.js';
import { eventRoutes } from './routes/events.js';
import { fileRoutes } from './routes/files.js';
import { imageRoutes } from './routes/images.js';
import { instanceLogRoutes } from './routes/instance-logs.js';
import { instanceRoutes } from './routes/instances.js';
import { kitRoutes } from './routes/kits.js';
import { resourceRoutes } from './routes/resources.js';
import { secretRoutes } from './routes/secrets.js';
import { statusRoutes } from './routes/status.js';
import { taskRoutes } from './routes/tasks.js';
import type { ApiServices } from './services.js';

/** Request bodies larger than this are refused with 413: manifests are small, bulk data never goes through the API. */
export const BODY_LIMIT = 1024 * 1024;

export type RouteRegistrar = (app: FastifyInstance, services: ApiServices) => void;

const ROUTES: RouteRegistrar[] = [statusRoutes, resourceRoutes, eventRoutes, kitRoutes, applyRoutes, appRoutes, secretRoutes, imageRoutes, taskRoutes, instanceRoutes, instanceLogRoutes, fileRoutes];

/**
 * The server without routes: its logger is the daemon's, which the router and the controllers log to before
 * the API is complete (they are built first, and the API is handed them).
 */
export function createApiServer(opts: { logger?: FastifyServerOptions['logger'] } = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Fastify logs a request's method and url only, never its body, which may hold secret values.
    forceCloseConnections: true,
  });
  installErrorHandling(app);
  return app;
}

/** Registers every route on `server` (default: a new one without a logger). */
export function buildApi(services: ApiServices, server: FastifyInstance = createApiServer()): FastifyInstance {
  for (const register of ROUTES) register(server, services);
  return server;
}
